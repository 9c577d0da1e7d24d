// hodor demo page: talks to the HTTP API documented in hodor/demo/app.py. No external assets.
"use strict";

const $ = (id) => document.getElementById(id);
const S = {
  session: null, n: 0, w: 0, h: 0, t: 0,
  ids: null,          // Uint8Array h*w: object id per pixel of the frame shown
  frameData: null,    // ImageData of the frame shown
  source: "none",
  objectIds: [1], selected: 1, tool: "brush", size: 12,
  painting: false, last: null, running: false, pollTimer: null, loadToken: 0,
  alpha: 0.5, hasModel: true,
};

// The DAVIS / PASCAL VOC palette (same bit pattern as hodor.utils.palette).
const PALETTE = (() => {
  const pal = [];
  for (let i = 0; i < 256; i++) {
    let r = 0, g = 0, b = 0, c = i;
    for (let j = 0; j < 8; j++) {
      r |= ((c >> 0) & 1) << (7 - j);
      g |= ((c >> 1) & 1) << (7 - j);
      b |= ((c >> 2) & 1) << (7 - j);
      c >>= 3;
    }
    pal.push([r, g, b]);
  }
  return pal;
})();

function showError(msg) {
  const el = $("error");
  if (!msg) { el.hidden = true; el.textContent = ""; return; }
  el.textContent = msg;
  el.hidden = false;
}

async function api(method, url, body) {
  const opts = { method };
  if (body instanceof FormData) opts.body = body;
  else if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers = { "Content-Type": "application/json" }; }
  const r = await fetch(url, opts);
  if (!r.ok) {
    let detail = r.status + " " + r.statusText;
    try {
      const j = await r.json();
      detail = typeof j.detail === "string" ? j.detail : JSON.stringify(j.detail);
    } catch (e) { /* not JSON */ }
    throw new Error(detail);
  }
  return r;
}

const base = () => `/api/sessions/${S.session}`;

// ------------------------------------------------------------------ rendering
function render() {
  const view = $("view");
  if (!S.frameData) return;
  const out = new ImageData(S.w, S.h);
  const src = S.frameData.data, dst = out.data, ids = S.ids, a = S.alpha;
  const w = S.w, h = S.h;
  for (let p = 0, q = 0; p < ids.length; p++, q += 4) {
    const id = ids[p];
    if (id) {
      const c = PALETTE[id];
      const x = p % w, y = (p - x) / w;
      const edge = (x > 0 && ids[p - 1] !== id) || (x < w - 1 && ids[p + 1] !== id) ||
        (y > 0 && ids[p - w] !== id) || (y < h - 1 && ids[p + w] !== id);
      if (edge) { dst[q] = c[0]; dst[q + 1] = c[1]; dst[q + 2] = c[2]; dst[q + 3] = 255; continue; }
      dst[q] = (1 - a) * src[q] + a * c[0];
      dst[q + 1] = (1 - a) * src[q + 1] + a * c[1];
      dst[q + 2] = (1 - a) * src[q + 2] + a * c[2];
    } else {
      dst[q] = src[q]; dst[q + 1] = src[q + 1]; dst[q + 2] = src[q + 2];
    }
    dst[q + 3] = 255;
  }
  view.getContext("2d").putImageData(out, 0, 0);
  view.dataset.frame = String(S.t);
  view.dataset.source = S.source;
  $("mask-source").textContent = S.source;
  updateCounts();
}

function updateCounts() {
  const counts = {};
  for (const id of S.ids) if (id) counts[id] = (counts[id] || 0) + 1;
  const keys = Object.keys(counts).map(Number).sort((x, y) => x - y);
  $("pixel-counts").textContent = keys.length ? keys.map((k) => `object ${k}: ${counts[k]} px`).join(", ") : "no object";
  $("pixel-counts").dataset.counts = JSON.stringify(counts);
  let changed = false;
  for (const k of keys) if (k !== 255 && !S.objectIds.includes(k)) { S.objectIds.push(k); changed = true; }
  if (changed) buildPalette();
}

function buildPalette() {
  S.objectIds.sort((x, y) => x - y);
  const el = $("palette");
  el.innerHTML = "";
  for (const id of S.objectIds) {
    const b = document.createElement("button");
    const c = PALETTE[id];
    b.textContent = String(id);
    b.dataset.id = String(id);
    b.style.background = `rgb(${c[0]},${c[1]},${c[2]})`;
    if (id === S.selected) b.classList.add("selected");
    b.addEventListener("click", () => selectObject(id));
    el.appendChild(b);
  }
}

function selectObject(id) {
  if (!S.objectIds.includes(id)) S.objectIds.push(id);
  S.selected = id;
  setTool("brush");
  buildPalette();
}

function setTool(tool) {
  S.tool = tool;
  document.querySelector(`input[name=tool][value=${tool}]`).checked = true;
}

function setSize(size) {
  S.size = Math.max(1, Math.min(80, size));
  $("brush-size").value = String(S.size);
  $("brush-size-label").textContent = String(S.size);
}

// ------------------------------------------------------------------ loading
async function decodeImage(blob) {
  const bmp = await createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
  const c = document.createElement("canvas");
  c.width = bmp.width; c.height = bmp.height;
  const ctx = c.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(bmp, 0, 0);
  return ctx.getImageData(0, 0, bmp.width, bmp.height);
}

async function loadFrame(t) {
  if (!S.session) return;
  t = Math.max(0, Math.min(S.n - 1, t));
  const token = ++S.loadToken;
  const [img, mask] = await Promise.all([
    api("GET", `${base()}/frames/${t}/image.jpg`),
    api("GET", `${base()}/frames/${t}/mask.png?format=grey`),
  ]);
  const source = mask.headers.get("X-Mask-Source") || "empty";
  const [frameData, maskData] = await Promise.all([decodeImage(await img.blob()), decodeImage(await mask.blob())]);
  if (token !== S.loadToken) return; // a newer frame was asked for meanwhile
  const ids = new Uint8Array(S.w * S.h);
  for (let p = 0; p < ids.length; p++) ids[p] = maskData.data[4 * p];
  S.t = t; S.frameData = frameData; S.ids = ids; S.source = source;
  $("frame-slider").value = String(t);
  $("frame-label").textContent = `frame ${t} / ${S.n - 1}`;
  render();
}

function goto(t) { loadFrame(t).catch((e) => showError(e.message)); }

async function openClip(files) {
  // One video or .zip, or several images (a folder of frames: the server sorts them by name).
  files = Array.from(files);
  const label = files.length === 1 ? files[0].name : `${files.length} files`;
  showError("");
  $("clip-info").textContent = `uploading ${label}...`;
  const fd = new FormData();
  for (const f of files) fd.append("file", f, f.name);
  let info;
  try {
    info = await (await api("POST", "/api/sessions", fd)).json();
  } catch (e) {
    $("clip-info").textContent = S.session ? $("clip-info").dataset.text : "no clip";
    showError(e.message);
    return;
  }
  if (S.session) api("DELETE", base()).catch(() => {});
  Object.assign(S, { session: info.session, n: info.num_frames, w: info.width, h: info.height, t: 0 });
  S.objectIds = [1]; S.selected = 1;
  buildPalette();
  for (const id of ["view", "cursor"]) { $(id).width = S.w; $(id).height = S.h; }
  fitCanvas();
  $("frame-slider").max = String(S.n - 1);
  const text = `${label}: ${S.n} frames, ${S.w}x${S.h}`;
  $("clip-info").textContent = text;
  $("clip-info").dataset.text = text;
  $("download-masks").href = `${base()}/masks.zip`;
  $("download-overlay").href = `${base()}/overlay.mp4`;
  $("download-masks").classList.remove("disabled");
  $("download-overlay").classList.remove("disabled");
  await loadFrame(0);
  await refreshStatus();
}

// Display size: as large as the viewer allows (small clips are scaled up), aspect kept.
function fitCanvas() {
  if (!S.w) return;
  const maxW = $("viewer").clientWidth, maxH = window.innerHeight * 0.7;
  const scale = Math.min(maxW / S.w, maxH / S.h);
  for (const id of ["view", "cursor"]) {
    $(id).style.width = `${Math.floor(S.w * scale)}px`;
    $(id).style.height = `${Math.floor(S.h * scale)}px`;
  }
}

// ------------------------------------------------------------------ painting
function toPixel(ev) {
  const view = $("view");
  const r = view.getBoundingClientRect();
  return [(ev.clientX - r.left) * (S.w / r.width), (ev.clientY - r.top) * (S.h / r.height)];
}

function stamp(x, y) {
  const rad = S.size / 2, value = S.tool === "eraser" ? 0 : S.selected;
  const x0 = Math.max(0, Math.floor(x - rad)), x1 = Math.min(S.w - 1, Math.ceil(x + rad));
  const y0 = Math.max(0, Math.floor(y - rad)), y1 = Math.min(S.h - 1, Math.ceil(y + rad));
  for (let yy = y0; yy <= y1; yy++) {
    for (let xx = x0; xx <= x1; xx++) {
      const dx = xx + 0.5 - x, dy = yy + 0.5 - y;
      if (dx * dx + dy * dy <= rad * rad) S.ids[yy * S.w + xx] = value;
    }
  }
}

function strokeTo(x, y) {
  const [lx, ly] = S.last || [x, y];
  const steps = Math.max(1, Math.ceil(Math.hypot(x - lx, y - ly) / Math.max(1, S.size / 4)));
  for (let i = 1; i <= steps; i++) stamp(lx + ((x - lx) * i) / steps, ly + ((y - ly) * i) / steps);
  S.last = [x, y];
  render();
}

function drawCursor(ev) {
  const c = $("cursor"), ctx = c.getContext("2d");
  ctx.clearRect(0, 0, c.width, c.height);
  if (!ev) return;
  const [x, y] = toPixel(ev);
  ctx.beginPath();
  ctx.arc(x, y, S.size / 2, 0, 2 * Math.PI);
  ctx.strokeStyle = S.tool === "eraser" ? "#fff" : `rgb(${PALETTE[S.selected].join(",")})`;
  ctx.lineWidth = Math.max(1, S.w / 400);
  ctx.stroke();
}

async function commitFrame() {
  // The mask shown on this frame becomes its given mask (new objects start here, tracked ones are corrected).
  const t = S.t;
  if (!S.ids.some((v) => v !== 0 && v !== 255)) {
    try { await api("DELETE", `${base()}/masks/${t}`); } catch (e) { /* had none */ }
    S.source = "empty";
  } else {
    const c = document.createElement("canvas");
    c.width = S.w; c.height = S.h;
    const img = new ImageData(S.w, S.h);
    for (let p = 0, q = 0; p < S.ids.length; p++, q += 4) {
      img.data[q] = img.data[q + 1] = img.data[q + 2] = S.ids[p];
      img.data[q + 3] = 255;
    }
    c.getContext("2d").putImageData(img, 0, 0);
    const blob = await new Promise((res) => c.toBlob(res, "image/png"));
    const fd = new FormData();
    fd.append("frame", String(t));
    fd.append("file", blob, `painted_frame_${t}.png`);
    await api("POST", `${base()}/masks`, fd);
    S.source = "annotated";
  }
  render();
  await refreshStatus();
}

async function undoStroke() {
  // Back to the mask before the last stroke: re-send it if it was a given mask, else remove the frame's given mask.
  const u = S.undo;
  if (!u || u.t !== S.t || S.running) return;
  S.undo = null;
  if (u.source === "annotated") {
    S.ids = u.ids;
    await commitFrame();
  } else {
    try { await api("DELETE", `${base()}/masks/${u.t}`); } catch (e) { /* the stroke left no given mask */ }
    await loadFrame(u.t);
    await refreshStatus();
  }
}

// ------------------------------------------------------------------ propagation
function showStatus(st) {
  const list = $("annotated-list");
  list.innerHTML = "";
  for (const f of st.annotated_frames) {
    const a = document.createElement("a");
    a.href = "#"; a.textContent = String(f);
    a.addEventListener("click", (e) => { e.preventDefault(); goto(f); });
    list.appendChild(a);
  }
  if (!st.annotated_frames.length) list.textContent = "none";
  for (const id of st.object_ids) if (!S.objectIds.includes(id)) S.objectIds.push(id);
  buildPalette();
  $("progress").max = Math.max(1, st.total);
  $("progress").value = st.done;
  let text = `${st.state}: ${st.done}/${st.total} frames from frame ${st.start}; ${st.up_to_date_frames}/${st.num_frames} up to date`;
  if (st.error) text += ` (${st.error})`;
  $("status").textContent = text;
  $("status").dataset.state = st.state;
  S.running = st.state === "running" || st.state === "queued";
  $("propagate").disabled = S.running || !S.hasModel;
  $("stop").disabled = !S.running;
}

async function refreshStatus() {
  if (!S.session) return null;
  const st = await (await api("GET", `${base()}/status`)).json();
  showStatus(st);
  return st;
}

async function poll() {
  try {
    const st = await refreshStatus();
    if (st && $("follow").checked && st.done > 0 && st.current - 1 !== S.t) await loadFrame(st.current - 1);
    if (st && (st.state === "running" || st.state === "queued")) {
      S.pollTimer = setTimeout(poll, 300);
      return;
    }
    S.pollTimer = null;
    if (st && st.state === "error") showError(`propagation failed: ${st.error}`);
    await loadFrame(S.t);
  } catch (e) {
    S.pollTimer = null;
    showError(e.message);
  }
}

async function propagate() {
  if (!S.session || S.running) return;
  showError("");
  try {
    showStatus(await (await api("POST", `${base()}/propagate`, {})).json());
  } catch (e) { showError(e.message); return; }
  if (!S.pollTimer) poll();
}

async function stopPropagation() {
  if (!S.session) return;
  try { showStatus(await (await api("POST", `${base()}/stop`)).json()); } catch (e) { showError(e.message); }
}

// ------------------------------------------------------------------ wiring
function wire() {
  const view = $("view");
  view.addEventListener("pointerdown", (ev) => {
    if (!S.session || ev.button !== 0) return;
    if (S.running) { showError("propagation is running: stop it before painting"); return; }
    S.painting = true; S.last = null;
    S.undo = { t: S.t, ids: S.ids.slice(), source: S.source };
    view.setPointerCapture(ev.pointerId);
    strokeTo(...toPixel(ev));
  });
  view.addEventListener("pointermove", (ev) => {
    drawCursor(ev);
    if (S.painting) strokeTo(...toPixel(ev));
  });
  const end = () => {
    if (!S.painting) return;
    S.painting = false; S.last = null;
    commitFrame().catch((e) => showError(e.message));
  };
  view.addEventListener("pointerup", end);
  view.addEventListener("pointercancel", end);
  view.addEventListener("pointerleave", () => drawCursor(null));

  for (const id of ["video-file", "folder-files"]) {
    $(id).addEventListener("change", (ev) => {
      if (ev.target.files.length) openClip(ev.target.files);
      ev.target.value = "";
    });
  }
  $("frame-slider").addEventListener("input", (ev) => goto(Number(ev.target.value)));
  $("prev").addEventListener("click", () => goto(S.t - 1));
  $("next").addEventListener("click", () => goto(S.t + 1));
  $("brush-size").addEventListener("input", (ev) => setSize(Number(ev.target.value)));
  for (const r of document.querySelectorAll("input[name=tool]")) r.addEventListener("change", () => setTool(r.value));
  $("new-object").addEventListener("click", () => selectObject(Math.min(254, Math.max(0, ...S.objectIds) + 1)));
  $("clear-frame").addEventListener("click", async () => {
    if (!S.session) return;
    try { await api("DELETE", `${base()}/masks/${S.t}`); showError(""); } catch (e) { showError(e.message); }
    await loadFrame(S.t).catch((e) => showError(e.message));
    await refreshStatus();
  });
  $("mask-file").addEventListener("change", async (ev) => {
    const f = ev.target.files[0];
    ev.target.value = "";
    if (!f || !S.session) return;
    const fd = new FormData();
    fd.append("frame", String(S.t));
    fd.append("object_id", $("binary-id").value || "1");
    fd.append("file", f, f.name);
    try {
      const r = await (await api("POST", `${base()}/masks`, fd)).json();
      showError("");
      for (const id of r.ids) if (!S.objectIds.includes(id)) S.objectIds.push(id);
      await loadFrame(S.t);
      await refreshStatus();
    } catch (e) { showError(e.message); }
  });
  $("propagate").addEventListener("click", propagate);
  $("stop").addEventListener("click", stopPropagation);

  document.addEventListener("keydown", (ev) => {
    const tag = (ev.target.tagName || "").toLowerCase();
    if (tag === "input" && ev.target.type !== "range" && ev.target.type !== "radio" && ev.target.type !== "checkbox") return;
    const k = ev.key;
    if (k === "ArrowLeft" || k === "a") goto(S.t - 1);
    else if (k === "ArrowRight" || k === "d") goto(S.t + 1);
    else if (k === "[") setSize(S.size - 2);
    else if (k === "]") setSize(S.size + 2);
    else if (k === "b") setTool("brush");
    else if (k === "e") setTool("eraser");
    else if (k === "n") $("new-object").click();
    else if (k === "p") propagate();
    else if (k === "Escape") stopPropagation();
    else if (k === "z" && (ev.ctrlKey || ev.metaKey)) undoStroke().catch((e) => showError(e.message));
    else if (/^[1-9]$/.test(k)) selectObject(Number(k));
    else return;
    ev.preventDefault();
  });
  window.addEventListener("resize", fitCanvas);
  window.addEventListener("pagehide", () => {
    if (S.session) fetch(base(), { method: "DELETE", keepalive: true });
  });
}

async function init() {
  wire();
  buildPalette();
  setSize(12);
  try {
    const info = await (await api("GET", "/api/info")).json();
    S.hasModel = info.model;
    if (!info.model) {
      $("model-banner").textContent = info.message;
      $("model-banner").hidden = false;
      $("propagate").disabled = true;
    }
  } catch (e) { showError(e.message); }
}

init();
