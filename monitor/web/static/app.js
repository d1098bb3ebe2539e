// Earshot: small conveniences only; every page works without JavaScript.
"use strict";

// The reply's length as its source counts it (Google counts UTF-8 bytes), shown under the text box.
function replyLength(text, unit) {
  return unit === "bytes" ? new TextEncoder().encode(text.trim()).length : Array.from(text.trim()).length;
}

let updateReplyCounter = () => {};

function wireReplyCounter() {
  const area = document.querySelector("#reply-form textarea[name=text]");
  const out = document.getElementById("reply-count");
  if (!area || !out) return;
  const limit = parseInt(area.dataset.limit || "0", 10);
  const unit = area.dataset.unit || "characters";
  const unitLabel = area.dataset.unitLabel || unit; // the unit in the page's language (znaków, bajtów)
  const button = document.getElementById("post-reply");
  updateReplyCounter = () => {
    const used = replyLength(area.value, unit);
    out.textContent = limit ? `${used} / ${limit} ${unitLabel}` : `${used} ${unitLabel}`;
    const over = limit > 0 && used > limit;
    out.classList.toggle("error", over);
    if (button) button.disabled = over || used === 0;
  };
  area.addEventListener("input", updateReplyCounter);
  updateReplyCounter();
}

// A form is sent once: a double tap on a phone must not post a reply twice.
function wireSingleSubmit() {
  document.querySelectorAll("form[method=post]").forEach((form) => {
    form.addEventListener("submit", () => {
      form.querySelectorAll("button[type=submit]").forEach((b) => {
        setTimeout(() => { b.disabled = true; }, 0);
      });
    });
  });
}

// Coming back with the Back button (page cache) must not leave the buttons disabled.
window.addEventListener("pageshow", () => {
  document.querySelectorAll("form[method=post] button[type=submit]").forEach((b) => { b.disabled = false; });
  updateReplyCounter();
});

// Sources without a reply API: copy the reply to the clipboard; the link itself opens the item's page.
function wireCopyReply() {
  const area = document.querySelector("#reply-form textarea[name=text]");
  const copy = document.querySelector("[data-copy-reply]");
  if (!area || !copy) return;
  copy.addEventListener("click", () => {
    const text = area.value.trim();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).catch(() => {});
    } else {
      area.select();
      document.execCommand("copy");
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  wireReplyCounter();
  wireCopyReply();
  wireSingleSubmit();
});
