// FileGate dashboard: the copy button beside a key or secret shown once. The only script; the pages
// work without it (the text is selectable).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var status = document.getElementById("copy-status");
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.textContent.trim()).then(
        function () {
          if (status) { status.textContent = "Copied to the clipboard."; }
        },
        function () {
          if (status) { status.textContent = "Copying failed: select the text and copy it."; }
        }
      );
    });
  });
});
