// The attempt page: each answer is saved as soon as it is chosen, without reloading the page. An
// answer chosen while offline is kept on this device (localStorage) and sent when the connection
// returns ("Đang chờ mạng…" → "Đã lưu"); the server's time limit still decides what counts. The
// countdown warns at 5 minutes and at 1 minute. Without this script every question keeps its own
// "Lưu" button: a plain form post.
(function () {
  "use strict";
  var bar = document.getElementById("attempt");
  if (!bar) { return; }
  var forms = Array.prototype.slice.call(document.querySelectorAll("form.answer-form"));
  var countEl = document.getElementById("answered-count");
  var networkEl = document.getElementById("network-status");
  var storeKey = "pending-answers-" + bar.getAttribute("data-attempt");
  var flushing = false;

  function readQueue() {
    try { return JSON.parse(window.localStorage.getItem(storeKey) || "{}"); } catch (e) { return {}; }
  }
  function writeQueue(queue) {
    try {
      if (Object.keys(queue).length) { window.localStorage.setItem(storeKey, JSON.stringify(queue)); }
      else { window.localStorage.removeItem(storeKey); }
    } catch (e) { /* private mode: the queue lives in memory only */ }
    memoryQueue = queue;
    showNetwork();
  }
  var memoryQueue = readQueue();
  function queue() { return window.localStorage ? readQueue() : memoryQueue; }

  function showNetwork() {
    var waiting = Object.keys(queue()).length;
    networkEl.textContent = waiting ? "Đang chờ mạng… (" + waiting + " câu chưa gửi)" : "";
  }

  function setStatus(form, text, kind) {
    var el = form.querySelector(".save-status");
    el.textContent = text;
    el.className = "save-status" + (kind === "error" ? " text-danger" : kind === "ok" ? " text-success" : "");
  }

  function updateCount() {
    var n = forms.filter(function (f) { return f.querySelector("input[name=answer]:checked"); }).length;
    if (countEl) { countEl.textContent = String(n); }
  }

  function fields(form) {
    var list = [];
    new FormData(form).forEach(function (value, name) { if (name !== "csrf_token") { list.push([name, value]); } });
    return list;
  }

  function formFor(action) {
    return forms.filter(function (f) { return f.action === action; })[0];
  }

  function post(action, list) {
    var form = formFor(action);
    var body = new FormData();
    body.append("csrf_token", form.querySelector("input[name=csrf_token]").value);
    list.forEach(function (pair) { body.append(pair[0], pair[1]); });
    return fetch(action, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-Requested-With": "fetch", "Accept": "application/json" }
    }).then(function (response) {
      return response.json().then(function (data) { return { status: response.status, data: data }; });
    });
  }

  function enqueue(form) {
    var pending = queue();
    pending[form.action] = fields(form);
    writeQueue(pending);
    setStatus(form, "Đang chờ mạng…", "");
  }

  function save(form) {
    if (!navigator.onLine) { enqueue(form); return; }
    var list = fields(form);
    setStatus(form, "Đang lưu…", "");
    post(form.action, list).then(function (result) {
      var pending = queue();
      if (JSON.stringify(pending[form.action]) === JSON.stringify(list)) { delete pending[form.action]; writeQueue(pending); }
      if (result.data.ok) {
        setStatus(form, "Đã lưu", "ok");
      } else {
        setStatus(form, result.data.error || "Chưa lưu được.", "error");
        if (result.data.closed) { writeQueue({}); window.location.reload(); }
      }
    }).catch(function () { enqueue(form); });
  }

  // Send what waits, one answer after another, when the connection is back.
  function flush() {
    if (flushing || !navigator.onLine) { return; }
    var pending = queue();
    var actions = Object.keys(pending).filter(formFor);
    if (!actions.length) { if (Object.keys(pending).length) { writeQueue({}); } return; }
    flushing = true;
    var action = actions[0], list = pending[action], form = formFor(action);
    setStatus(form, "Đang lưu…", "");
    post(action, list).then(function (result) {
      var now = queue();
      if (JSON.stringify(now[action]) === JSON.stringify(list)) { delete now[action]; writeQueue(now); }
      flushing = false;
      if (result.data.ok) { setStatus(form, "Đã lưu", "ok"); flush(); }
      else {
        setStatus(form, result.data.error || "Chưa lưu được.", "error");
        if (result.data.closed) { writeQueue({}); window.location.reload(); } else { flush(); }
      }
    }).catch(function () { flushing = false; setStatus(form, "Đang chờ mạng…", ""); });
  }

  // Answers that waited from an earlier visit: show them chosen again, then send them.
  Object.keys(queue()).forEach(function (action) {
    var form = formFor(action);
    if (!form) { return; }
    var values = queue()[action].map(function (pair) { return pair[1]; });
    form.querySelectorAll("input[name=answer]").forEach(function (input) { input.checked = values.indexOf(input.value) >= 0; });
    setStatus(form, "Đang chờ mạng…", "");
  });
  updateCount();
  showNetwork();

  forms.forEach(function (form) {
    var button = form.querySelector(".save-button");
    if (button) { button.hidden = true; }  // saved on change: no invisible focus stop
    form.addEventListener("change", function () { updateCount(); save(form); });
    form.addEventListener("submit", function (event) { event.preventDefault(); save(form); });
  });
  window.addEventListener("online", flush);
  window.setInterval(flush, 10000);
  flush();

  var submitForm = document.getElementById("submit-form");
  if (submitForm) {
    submitForm.addEventListener("submit", function (event) {
      if (Object.keys(queue()).length) {
        event.preventDefault();
        window.alert("Còn câu trả lời chưa gửi được vì mất mạng. Khi có mạng, các câu sẽ tự gửi; sau đó anh/chị nộp bài.");
        flush();
        return;
      }
      var left = forms.length - forms.filter(function (f) { return f.querySelector("input[name=answer]:checked"); }).length;
      if (left > 0 && !window.confirm("Còn " + left + " câu chưa trả lời. Anh/chị vẫn nộp bài?")) {
        event.preventDefault();
      }
    });
  }

  // The countdown, with warnings at 5 minutes and 1 minute (announced to screen readers too).
  var deadline = bar.getAttribute("data-deadline");
  var countdown = document.getElementById("countdown");
  var label = document.getElementById("countdown-label");
  var warning = document.getElementById("time-warning");
  if (deadline && countdown) {
    var end = new Date(deadline).getTime();
    var warned = { five: false, one: false };
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
      label.textContent = "Còn lại";
      countdown.textContent = minutes + ":" + (seconds < 10 ? "0" : "") + seconds;
      if (left <= 300 && !warned.five) {
        warned.five = true; bar.classList.add("is-warning");
        if (left > 60) { warning.textContent = "Còn 5 phút. Hãy kiểm tra các câu và nộp bài."; warning.hidden = false; }
      }
      if (left <= 60 && !warned.one) {
        warned.one = true; bar.classList.remove("is-warning"); bar.classList.add("is-urgent");
        warning.textContent = "Còn 1 phút. Bài sẽ được chấm khi hết giờ theo các câu đã lưu."; warning.hidden = false;
      }
      if (left === 0) { clearInterval(timer); flush(); window.setTimeout(function () { window.location.reload(); }, 1500); }
    };
    var timer = setInterval(tick, 1000);
    tick();
  }
})();
