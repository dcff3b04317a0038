// The labelling queue: choosing an intent from the full list saves it at once, like the buttons.
document.querySelectorAll("select.other-intent").forEach(function (select) {
  select.addEventListener("change", function () {
    if (select.value) select.form.requestSubmit();
  });
});
