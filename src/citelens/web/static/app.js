// Progressive enhancement only; every page works without it.
// A changed filter or ordering applies at once (without JavaScript: "Apply filters").
document.querySelectorAll("form.filters").forEach((form) => {
  form.addEventListener("change", (event) => {
    if (event.target.matches("input[type=checkbox], select")) {
      form.requestSubmit();
    }
  });
});
// On a phone the filters start folded so that the statements come first.
if (window.matchMedia("(max-width: 760px)").matches) {
  document.querySelectorAll("details.facets").forEach((details) => {
    if (!details.querySelector("input:checked, select option:checked:not([value=''])")) {
      details.open = false;
    }
  });
}
