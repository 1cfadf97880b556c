// "Copy" buttons: <button data-copy="#textarea-id"> copies that field's text.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var field = document.querySelector(button.getAttribute("data-copy"));
  if (!field) return;
  var done = function () {
    button.setAttribute("data-copied", "true");
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(done, function () {
      field.select();
      document.execCommand("copy");
      done();
    });
  } else {
    field.select();
    document.execCommand("copy");
    done();
  }
});
