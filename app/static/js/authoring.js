// The source viewer of the authoring pages: pick a letter, select a passage, and the passage is
// copied verbatim into the chosen citation's quote (questions) or inserted as an attributed
// blockquote (lessons). The server checks the quotation again on save.
(function () {
  "use strict";
  var viewer = document.getElementById("source-viewer");
  if (!viewer) { return; }
  var chooser = document.getElementById("viewer-source");
  var status = document.getElementById("selection-status");
  var activeRow = 0;

  function texts() { return Array.prototype.slice.call(viewer.querySelectorAll("pre.source-text")); }

  function show(slug) {
    texts().forEach(function (pre) { pre.hidden = pre.getAttribute("data-source") !== slug; });
  }

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
  if (chooser.value) { show(chooser.value); }

  Array.prototype.forEach.call(document.querySelectorAll("button.choose-quote"), function (button) {
    button.addEventListener("click", function () {
      activeRow = parseInt(button.getAttribute("data-row"), 10) || 0;
      status.textContent = "Trích dẫn " + (activeRow + 1) + ": hãy bôi đen một đoạn trong văn bản nguồn.";
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
