// Saves each answer as soon as it is chosen, without reloading the page, and shows the time left.
// Without this script every question still has its own "Lưu" button: a plain form post.
(function () {
  "use strict";
  var bar = document.getElementById("attempt");
  if (!bar) { return; }
  var forms = Array.prototype.slice.call(document.querySelectorAll("form.answer-form"));
  var countEl = document.getElementById("answered-count");

  function setStatus(form, text, kind) {
    var el = form.querySelector(".save-status");
    el.textContent = text;
    el.className = "small save-status " + (kind === "error" ? "text-danger" : kind === "ok" ? "text-success" : "text-muted");
  }

  function updateCount() {
    var n = forms.filter(function (f) { return f.querySelector("input[name=answer]:checked"); }).length;
    if (countEl) { countEl.textContent = String(n); }
  }

  function save(form, attempt) {
    attempt = attempt || 1;
    setStatus(form, "Đang lưu…", "");
    fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "X-Requested-With": "fetch", "Accept": "application/json" }
    }).then(function (response) {
      return response.json().then(function (data) { return { status: response.status, data: data }; });
    }).then(function (result) {
      if (result.data.ok) {
        setStatus(form, "Đã lưu ✓", "ok");
      } else {
        setStatus(form, result.data.error || "Chưa lưu được.", "error");
        if (result.data.closed) { window.location.reload(); }
      }
    }).catch(function () {
      // A dropped connection: keep the choice on screen and try again shortly.
      setStatus(form, "Mất kết nối — đang thử lưu lại…", "error");
      if (attempt < 20) { setTimeout(function () { save(form, attempt + 1); }, Math.min(2000 * attempt, 15000)); }
    });
  }

  forms.forEach(function (form) {
    var button = form.querySelector(".save-button");
    if (button) { button.classList.add("visually-hidden"); }
    form.addEventListener("change", function () { updateCount(); save(form); });
    form.addEventListener("submit", function (event) { event.preventDefault(); save(form); });
  });

  var submitForm = document.getElementById("submit-form");
  if (submitForm) {
    submitForm.addEventListener("submit", function (event) {
      var left = forms.length - forms.filter(function (f) { return f.querySelector("input[name=answer]:checked"); }).length;
      if (left > 0 && !window.confirm("Còn " + left + " câu chưa trả lời. Anh/chị vẫn nộp bài?")) {
        event.preventDefault();
      }
    });
  }

  var deadline = bar.getAttribute("data-deadline");
  var countdown = document.getElementById("countdown");
  var warning = document.getElementById("time-warning");
  var warned = {};
  if (deadline && countdown) {
    var end = new Date(deadline).getTime();
    var tick = function () {
      var left = Math.max(0, Math.round((end - Date.now()) / 1000));
      // Warn once at 5 minutes and once at 1 minute before the deadline (read out by screen readers).
      [[60, "Còn 1 phút: bài làm sẽ tự nộp khi hết giờ."], [300, "Còn 5 phút để làm bài."]].forEach(function (step) {
        if (warning && left > 0 && left <= step[0] && !warned[step[0]] && (step[0] === 60 || left > 60)) {
          warned[step[0]] = true;
          warning.textContent = step[1];
          warning.hidden = false;
        }
      });
      var minutes = Math.floor(left / 60), seconds = left % 60;
      countdown.textContent = (minutes < 10 ? "0" : "") + minutes + ":" + (seconds < 10 ? "0" : "") + seconds;
      countdown.previousElementSibling.textContent = "Còn lại";
      if (left === 0) { clearInterval(timer); window.location.reload(); }
    };
    var timer = setInterval(tick, 1000);
    tick();
  }
})();
