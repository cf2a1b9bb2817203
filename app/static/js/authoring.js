// The source viewer of the authoring pages: pick a letter, select a passage, and the passage is
// copied verbatim into the chosen citation's quote (questions) or inserted as an attributed
// blockquote (lessons). The server checks the quotation again on save.
(function () {
  "use strict";
  // A question shows only the parts its type uses (without this script, all are shown; the
  // server reads only those of the chosen type).
  var type = document.getElementById("type");
  function showForType() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-types]"), function (el) {
      el.hidden = el.getAttribute("data-types").split(" ").indexOf(type.value) < 0;
    });
  }
  if (type && document.getElementById("question-form")) {
    type.addEventListener("change", showForType);
    showForType();
  }

  // A lesson's preview follows the typing: the server renders and sanitises the Markdown.
  var preview = document.querySelector(".lesson-preview[data-preview-url]");
  var body = document.getElementById("body");
  var timer = null;
  function refreshPreview() {
    var form = document.getElementById("lesson-form");
    var data = new FormData();
    data.append("csrf_token", form.querySelector("input[name=csrf_token]").value);
    data.append("body", body.value);
    fetch(preview.getAttribute("data-preview-url"), {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-Requested-With": "fetch", "Accept": "application/json" }
    }).then(function (response) { return response.ok ? response.json() : null; })
      .then(function (result) {
        // The HTML comes from the server's sanitiser (no raw HTML, no scripts, safe links only).
        if (result) { preview.querySelector("article").innerHTML = result.html; }
      });
  }
  if (preview && body) {
    body.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(refreshPreview, 600);
    });
  }

  // The topic picker: a filter box narrows the checkboxes as the trainer types (no diacritics
  // needed); checked topics always stay in sight.
  function plain(text) {
    return text.toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/đ/g, "d");
  }
  var topicPicker = document.querySelector("[data-topic-picker]");
  if (topicPicker) {
    var filter = topicPicker.querySelector("[data-topic-filter]");
    var count = topicPicker.querySelector("[data-topic-count]");
    var items = Array.prototype.slice.call(topicPicker.querySelectorAll(".topic-picker__item"));
    topicPicker.querySelector(".topic-picker__filter").hidden = false;
    filter.addEventListener("input", function () {
      var wanted = plain(filter.value.trim());
      var shown = 0;
      items.forEach(function (item) {
        var match = !wanted || plain(item.textContent).indexOf(wanted) >= 0 || item.querySelector("input").checked;
        item.hidden = !match;
        shown += match ? 1 : 0;
      });
      count.textContent = wanted ? shown + " chủ đề khớp" : "";
    });
  }

  var viewer = document.getElementById("source-viewer");
  if (!viewer) { return; }
  var picker = document.getElementById("source-picker");
  var chooser = document.getElementById("viewer-source");
  var status = document.getElementById("selection-status");
  var holder = viewer.querySelector("[data-source-texts]");
  var loading = viewer.querySelector("[data-source-loading]");
  var activeRow = 0;
  var fetching = {};
  // With the script, a select and the fetched text replace the list of links to each text's page.
  viewer.querySelector(".source-picker__js").hidden = false;
  viewer.querySelector(".source-links").hidden = true;

  function texts() { return Array.prototype.slice.call(viewer.querySelectorAll("pre.source-text")); }

  // A letter's text is fetched the first time it is shown, not carried in the editor's page.
  function show(slug) {
    var found = false;
    texts().forEach(function (pre) {
      pre.hidden = pre.getAttribute("data-source") !== slug;
      found = found || !pre.hidden;
    });
    if (found || !slug || fetching[slug]) { return; }  // one request per letter, however often asked
    fetching[slug] = true;
    var option = chooser.options[chooser.selectedIndex];
    loading.textContent = "Đang tải văn bản…";
    fetch(option.getAttribute("data-url"), { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        fetching[slug] = false;
        if (html === null) { loading.textContent = "Không tải được văn bản; hãy thử lại."; return; }
        loading.textContent = "";
        // The fragment is the server's template: the letter as escaped plain text in a <pre>.
        holder.insertAdjacentHTML("beforeend", html);
        show(chooser.value);
      }, function () {
        fetching[slug] = false;
        loading.textContent = "Không tải được văn bản (mất kết nối); hãy thử lại.";
      });
  }

  picker.addEventListener("toggle", function () { if (picker.open) { show(chooser.value); } });

  function selectedPassage() {
    var selection = window.getSelection();
    if (!selection || selection.isCollapsed) { return ""; }
    var node = selection.anchorNode;
    var pre = node && (node.nodeType === 1 ? node : node.parentElement).closest("pre.source-text");
    return pre && !pre.hidden ? selection.toString().trim() : "";
  }

  function selectOption(select, value) {
    Array.prototype.forEach.call(select.options, function (option) {
      if (option.value === value) { option.selected = true; }
    });
  }

  function fillQuestion(passage, slug) {
    var quote = document.getElementById("citations-" + activeRow + "-quote");
    var source = document.getElementById("citations-" + activeRow + "-source");
    if (!quote || !source) { return false; }
    quote.value = passage;
    source.value = slug;
    return true;
  }

  function fillLesson(passage, slug) {
    var body = document.getElementById("body");
    if (!body) { return false; }
    var quoted = "\n> " + passage.split(/\n/).join("\n> ") + "\n> — [" + slug + ", vị trí]\n";
    var at = body.selectionStart || body.value.length;
    body.value = body.value.slice(0, at) + quoted + body.value.slice(at);
    selectOption(document.getElementById("sources"), slug);
    return true;
  }

  chooser.addEventListener("change", function () { show(chooser.value); });

  Array.prototype.forEach.call(document.querySelectorAll("button.choose-quote"), function (button) {
    button.addEventListener("click", function () {
      activeRow = parseInt(button.getAttribute("data-row"), 10) || 0;
      status.textContent = "Trích dẫn " + (activeRow + 1) + ": hãy bôi đen một đoạn trong văn bản nguồn.";
      if (!picker.open) { picker.open = true; }
      viewer.scrollIntoView({ block: "nearest" });
    });
  });

  document.getElementById("use-selection").addEventListener("click", function () {
    var passage = selectedPassage();
    if (!passage) {
      status.textContent = "Chưa chọn đoạn nào trong văn bản nguồn.";
      return;
    }
    var target = viewer.getAttribute("data-target");
    var done = target === "question" ? fillQuestion(passage, chooser.value) : fillLesson(passage, chooser.value);
    status.textContent = done ? "Đã chép đoạn đã chọn." : "Không tìm thấy ô để chép vào.";
  });
}());
