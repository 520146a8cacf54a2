// Progressive enhancement: a changed filter or ordering applies at once. Without JavaScript
// the "Apply filters" button does the same.
document.querySelectorAll("form.filters").forEach((form) => {
  form.addEventListener("change", (event) => {
    if (event.target.matches("input[type=checkbox], select")) {
      form.requestSubmit();
    }
  });
});
