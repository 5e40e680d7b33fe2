// What the page needs beyond Gradio: Chinese names for Gradio's own controls, text (not markup) for screen
// readers, a live character counter, the source panel on wide screens, scrolling to a deep-linked point,
// one toast at a time, copying a message as text, and the admin CSV download and document upload with the token
// in a header.
(() => {
  "use strict";

  const LIMIT = 500;
  const WARN_AT = 450;
  const WIDE = 900; // px: from here on the source also shows in the side panel
  const LABELS = {
    "like": "有用", "dislike": "没有用", "copy message": "复制这条消息", "copy conversation": "复制整个对话",
    "copy": "复制", "copied": "已复制", "copied message": "已复制", "clear": "清空对话", "share": "分享", "retry": "重试",
    "undo": "撤销", "edit": "编辑", "scroll down": "滚动到底部", "settings": "设置", "close": "关闭", "dropdown": "展开选项",
    // Gradio's own Chinese, where a plainer word says what the button does.
    "赞": "有用", "踩": "没有用", "复制消息": "复制这条消息", "清除": "清空对话",
  };
  const TOAST_TITLES = { "error": "出错了", "warning": "请注意", "info": "提示", "success": "完成" };

  // -- a live region of our own (Gradio re-renders its components, so it is kept outside them) --
  const live = document.createElement("p");
  live.id = "pq-live";
  live.className = "pq-sr-only";
  live.setAttribute("role", "status");
  live.setAttribute("aria-live", "polite");

  function say(text) {
    live.textContent = "";
    window.setTimeout(() => { live.textContent = text; }, 50);
  }

  // -- names and languages ----------------------------------------------------------------
  function keepChinese() {
    const html = document.documentElement;
    if (html.lang !== "zh-CN") html.lang = "zh-CN";
  }

  function relabel(root) {
    for (const el of root.querySelectorAll("button, [role=button], [role=tab]")) {
      const current = (el.getAttribute("aria-label") || el.getAttribute("title") || "").trim();
      const chinese = LABELS[current.toLowerCase()];
      if (chinese) {
        el.setAttribute("aria-label", chinese);
        if (el.hasAttribute("title")) el.setAttribute("title", chinese);
      } else if (!current && !el.textContent.trim()) {
        nameIconButton(el);
      }
    }
    for (const img of root.querySelectorAll("img[alt]")) {
      if (img.closest("button") && img.closest("button").textContent.trim() === img.alt) img.alt = "";
    }
  }

  function nameIconButton(el) {
    // Gradio's icon-only buttons without a name: the chat's scroll button and the dropdown's arrow.
    if (el.closest("#pq-chat")) el.setAttribute("aria-label", "滚动到最新消息");
    else if (el.closest(".wrap, .dropdown, [data-testid=dropdown]")) el.setAttribute("aria-label", "展开选项");
    else el.setAttribute("aria-label", "按钮");
  }

  function plainMessages(root) {
    // Gradio names each message with its raw source (HTML tags and all): let screen readers read the text instead.
    for (const el of root.querySelectorAll("#pq-chat [aria-label]:not(button)")) {
      if (/[<>]|message:/.test(el.getAttribute("aria-label"))) el.removeAttribute("aria-label");
    }
  }

  function oneToast() {
    const toasts = document.querySelectorAll(".toast-body");
    toasts.forEach((t, i) => { if (i < toasts.length - 1) t.remove(); });
    for (const title of document.querySelectorAll(".toast-title")) {
      const chinese = TOAST_TITLES[title.textContent.trim().toLowerCase().replace(/\s*\(\d+\)$/, "")];
      if (chinese) title.textContent = chinese;
    }
  }

  // -- the question box: a name, a counter, nothing cut silently ---------------------------------
  function counter() {
    const box = document.querySelector("#pq-question textarea");
    if (!box || box.dataset.pqCounter) return;
    box.dataset.pqCounter = "1";
    box.setAttribute("aria-label", "您的问题");
    const out = document.createElement("p");
    out.id = "pq-counter";
    out.className = "pq-counter";
    box.setAttribute("aria-describedby", "pq-counter");
    (box.closest("#pq-ask-row") || box.parentElement).insertAdjacentElement("afterend", out);
    let state = "";
    const update = () => {
      const n = [...box.value.trim()].length;
      const next = n > LIMIT ? "over" : n >= WARN_AT ? "warn" : "";
      out.textContent = n > LIMIT ? `已超出 ${n - LIMIT} 字，请删减到 ${LIMIT} 字以内（${n}/${LIMIT}）` : n >= WARN_AT ? `还可以输入 ${LIMIT - n} 字（${n}/${LIMIT}）` : `${n}/${LIMIT}`;
      out.dataset.state = next;
      if (next !== state && next) say(out.textContent);
      state = next;
    };
    box.addEventListener("input", update);
    new MutationObserver(update).observe(box, { attributes: true });
    update();
  }

  // -- sources: in place on a phone, and in the side panel on a wide screen -----------------
  function onToggle(event) {
    const details = event.target;
    if (!(details instanceof HTMLDetailsElement) || !details.classList.contains("pq-src") || !details.open) return;
    const mark = details.querySelector("mark") || details.querySelector(".pq-source");
    if (mark) mark.scrollIntoView({ block: "center", behavior: "instant" });
    const side = document.getElementById("pq-side-body");
    const source = details.querySelector(".pq-source");
    if (side && source && window.innerWidth >= WIDE) {
      side.replaceChildren(source.cloneNode(true));
      const sideMark = side.querySelector("mark");
      if (sideMark) sideMark.scrollIntoView({ block: "nearest", behavior: "instant" });
    }
  }

  function deepLinkTarget() {
    const target = document.querySelector(".pq-target:not([data-pq-shown])");
    if (!target || !target.offsetParent) return;
    target.dataset.pqShown = "1";
    target.scrollIntoView({ block: "start", behavior: "instant" });
    target.focus({ preventScroll: true });
  }

  // -- copy a message as the text it shows ---------------------------------------------------
  async function copyText(text) {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const area = document.createElement("textarea");
      area.value = text;
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    say("已复制");
  }

  function onCopyClick(event) {
    const button = event.target.closest("#pq-chat button");
    const name = button && (button.getAttribute("aria-label") || "");
    if (!button || !/复制这条消息|copy message/i.test(name)) return;
    const message = button.closest(".message-row, .message-wrap > div, [class*=message]")?.querySelector(".message-content");
    if (!message) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    copyText(message.innerText.trim());
  }

  // -- the admin CSV: the token goes in a header, never in a URL -----------------------------
  function adminToken() {
    return document.querySelector("#pq-token input, #pq-token textarea")?.value || "";
  }

  async function exportCsv(event) {
    if (!event.target.closest("#pq-export")) return;
    event.preventDefault();
    const response = await fetch("/api/admin/export.csv", { headers: { "X-Admin-Token": adminToken() }, credentials: "same-origin" });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      say(`导出失败：${body.message_zh || response.status}`);
      return;
    }
    const name = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "")?.[1] || "policyqa-interactions.csv";
    const url = URL.createObjectURL(await response.blob());
    const link = Object.assign(document.createElement("a"), { href: url, download: name });
    document.body.append(link);
    link.click();
    link.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
    say("CSV 已开始下载");
  }

  // -- adding a document: preview, confirm, then watch the rebuild (the server renders the fragments) --
  const DOCUMENTS = "/api/admin/documents";
  let watching = 0;
  let lastState = "";

  async function adminFetch(url, options = {}) {
    const headers = { "X-Admin-Token": adminToken(), "Accept": "text/html" };
    const response = await fetch(url, { ...options, headers, credentials: "same-origin" });
    if (response.ok) return { ok: true, status: response.status, html: await response.text() };
    const body = await response.json().catch(() => ({}));
    return { ok: false, status: response.status, message: body.message_zh || `请求失败（${response.status}）` };
  }

  function pickedFile() {
    return document.getElementById("pq-upload-file")?.files?.[0] || null;
  }

  function sendFile(url, file) {
    const form = new FormData();
    form.append("file", file, file.name);
    return adminFetch(url, { method: "POST", body: form });
  }

  function uploadSay(text) {
    const out = document.getElementById("pq-upload-msg");
    if (out) out.textContent = text;
  }

  function show(id, html) {
    const el = document.getElementById(id);
    if (el) el.innerHTML = html; // rendered by the server's autoescaping templates
  }

  function canConfirm(yes) {
    const button = document.getElementById("pq-upload-confirm");
    if (button) button.disabled = !yes;
  }

  async function previewUpload(file) {
    uploadSay(`正在解析 ${file.name}……`);
    const r = await sendFile(`${DOCUMENTS}/preview`, file);
    if (!r.ok) {
      show("pq-upload-result", "");
      uploadSay(`无法预览：${r.message}`);
      return;
    }
    show("pq-upload-result", r.html);
    canConfirm(true);
    uploadSay("预览已生成，请核对后点“确认添加”。");
  }

  async function addUpload(file) {
    uploadSay(`正在添加 ${file.name}……`);
    const r = await sendFile(DOCUMENTS, file);
    if (!r.ok) {
      uploadSay(`没有添加：${r.message}`);
      canConfirm(r.status === 409); // a rebuild is running: the same file can be confirmed once it is done
      return;
    }
    show("pq-upload-result", r.html);
    uploadSay(r.status === 202 ? "已添加，正在后台重建索引，问答照常进行。" : "内容与已有文件完全相同，没有重复添加。");
    refreshCorpus();
  }

  async function refreshCorpus() {
    window.clearTimeout(watching);
    const r = await adminFetch(DOCUMENTS);
    if (!r.ok) {
      uploadSay(`无法读取文件列表：${r.message}`);
      return;
    }
    show("pq-upload-corpus", r.html);
    const job = document.querySelector("#pq-upload-corpus .pq-job");
    const state = job?.dataset.state || "";
    if (lastState === "running" && state !== "running" && job) uploadSay(job.textContent.trim());
    lastState = state;
    if (state === "running") watching = window.setTimeout(refreshCorpus, 1500);
  }

  async function onUploadClick(event) {
    const button = event.target.closest("#pq-upload-preview, #pq-upload-confirm, #pq-upload-refresh");
    if (!button || button.disabled) return;
    event.preventDefault();
    if (button.id === "pq-upload-refresh") return refreshCorpus();
    const file = pickedFile();
    if (!file) return uploadSay("请先选择文件。");
    canConfirm(false);
    button.setAttribute("aria-busy", "true");
    try {
      await (button.id === "pq-upload-preview" ? previewUpload(file) : addUpload(file));
    } catch {
      uploadSay("网络错误，请稍后再试。");
    } finally {
      button.removeAttribute("aria-busy");
    }
  }

  function onFilePicked(event) {
    if (event.target.id !== "pq-upload-file") return;
    canConfirm(false);
    show("pq-upload-result", "");
    uploadSay(pickedFile() ? "已选择文件，请点“预览”查看解析结果。" : "");
  }

  // -- wiring ----------------------------------------------------------------------------------
  let queued = false;
  function tidy() {
    queued = false;
    keepChinese();
    relabel(document);
    plainMessages(document);
    oneToast();
    counter();
    deepLinkTarget();
  }

  function start() {
    document.body.append(live);
    document.addEventListener("toggle", onToggle, true);
    document.addEventListener("click", onCopyClick, true);
    document.addEventListener("click", exportCsv);
    document.addEventListener("click", onUploadClick);
    document.addEventListener("change", onFilePicked);
    new MutationObserver(() => {
      if (!queued) {
        queued = true;
        window.requestAnimationFrame(tidy);
      }
    }).observe(document.documentElement, { subtree: true, childList: true, attributes: true, attributeFilter: ["lang", "aria-label", "class"] });
    tidy();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
