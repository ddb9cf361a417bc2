// The live discrepancy page: one WebSocket to /discrepancy/ws, one section per pair group.
// No libraries, no network beyond this server.
"use strict";

const HISTORY = 240; // points in each rolling chart
const ROWS = [
  ["symbol", "symbol", (v, e) => `${v} <span class="meta">${e.quote}${e.rate !== 1 ? " ×" + e.rate : ""}</span>`],
  ["price", "last trade", fmtPrice],
  ["side", "taker / size", (v, e) => (v ? `${v} ${fmtNum(e.size, 6)}` : "–")],
  ["trade_ts", "trade time (UTC)", (v) => (v ? v.slice(11, 26) : "–")],
  ["age_ms", "trade age", fmtAge],
  ["bid", "best bid", fmtPrice],
  ["ask", "best ask", fmtPrice],
  ["quote_age_ms", "quote age", fmtAge],
  ["compared_price", "compared", fmtPrice],
];
const groups = new Map(); // pair -> {section, history, last}

function fmtNum(v, digits) {
  return v === null || v === undefined ? "–" : Number(v).toLocaleString("en-US", { maximumFractionDigits: digits });
}
function fmtPrice(v) { return fmtNum(v, 8); }
function fmtAge(v) {
  if (v === null || v === undefined) return "–";
  return v < 1000 ? `${v} ms` : `${(v / 1000).toFixed(1)} s`;
}
function esc(text) {
  return String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

function sectionFor(pair) {
  let group = groups.get(pair);
  if (group) return group;
  const section = document.createElement("section");
  section.className = "group";
  section.dataset.pair = pair;
  section.innerHTML = `
    <div class="summary">
      <h2>${esc(pair)}</h2>
      <span class="spread" data-field="spread_bps">–</span>
      <span class="meta" data-field="basis"></span>
      <span class="meta" data-field="ends"></span>
      <span class="meta" data-field="ts"></span>
    </div>
    <div class="layout">
      <table><thead></thead><tbody></tbody></table>
      <div><canvas width="600" height="300"></canvas><div class="events"></div></div>
    </div>`;
  document.getElementById("groups").appendChild(section);
  group = { section, history: [], last: null };
  groups.set(pair, group);
  return group;
}

function render(update) {
  const group = sectionFor(update.pair);
  const { section } = group;
  const venues = Object.keys(update.venues);
  section.classList.toggle("alert", !!update.alert);
  const spread = update.spread_bps;
  section.querySelector('[data-field="spread_bps"]').textContent =
    spread === null ? "– bps" : `${spread.toFixed(2)} bps`;
  section.querySelector('[data-field="basis"]').textContent =
    `on ${update.basis === "mid" ? "mid-prices" : "last trades"}, in ${update.quote}, ${update.compared} venues`;
  section.querySelector('[data-field="ends"]').innerHTML = update.highest
    ? `high <span class="high">${esc(update.highest)}</span> · low <span class="low">${esc(update.lowest)}</span>`
    : "";
  section.querySelector('[data-field="ts"]').textContent = update.ts.slice(11, 23) + " UTC";
  const head = section.querySelector("thead");
  head.innerHTML = "<tr><th></th>" + venues.map((v) => {
    const stale = update.venues[v].stale;
    return `<th data-venue="${esc(v)}" class="${stale ? "stale" : ""}">${esc(v)}` +
      (stale ? ' <span class="stale-badge">stale</span>' : "") + "</th>";
  }).join("") + "</tr>";
  const body = section.querySelector("tbody");
  body.innerHTML = ROWS.map(([key, label, fmt]) => "<tr><th>" + label + "</th>" + venues.map((v) => {
    const entry = update.venues[v];
    const classes = [];
    if (entry.stale) classes.push("stale");
    if (key === "compared_price" && v === update.highest) classes.push("high");
    if (key === "compared_price" && v === update.lowest) classes.push("low");
    return `<td data-venue="${esc(v)}" data-field="${key}" class="${classes.join(" ")}">${fmt(entry[key], entry)}</td>`;
  }).join("") + "</tr>").join("");
  if (update.event) {
    const line = document.createElement("div");
    line.textContent = `${update.ts.slice(11, 23)} spread ${update.event.kind} ${update.event.threshold_bps} bps (${spread.toFixed(2)})`;
    section.querySelector(".events").prepend(line);
  }
  group.history.push({ t: Date.parse(update.ts), bps: spread, threshold: update.threshold_bps });
  if (group.history.length > HISTORY) group.history.shift();
  group.last = update;
  drawChart(section.querySelector("canvas"), group.history);
}

function drawChart(canvas, history) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = 28;
  ctx.clearRect(0, 0, w, h);
  const points = history.filter((p) => p.bps !== null);
  const threshold = history.length ? history[history.length - 1].threshold : 0;
  const top = Math.max(threshold * 1.2, ...points.map((p) => p.bps), 1);
  const t0 = history.length ? history[0].t : 0, t1 = history.length ? history[history.length - 1].t : 1;
  const x = (t) => pad + ((t - t0) / Math.max(1, t1 - t0)) * (w - pad - 8);
  const y = (v) => h - pad - (v / top) * (h - 2 * pad);
  ctx.font = "20px system-ui, sans-serif";
  ctx.fillStyle = "#6b7385";
  ctx.fillText(`${top.toFixed(1)} bps`, pad, 20);
  ctx.fillText("spread, recent updates", pad, h - 6);
  ctx.strokeStyle = "#e3a008";
  ctx.setLineDash([8, 6]);
  ctx.beginPath(); ctx.moveTo(pad, y(threshold)); ctx.lineTo(w - 8, y(threshold)); ctx.stroke();
  ctx.setLineDash([]);
  ctx.strokeStyle = "#2756c8";
  ctx.lineWidth = 3;
  ctx.beginPath();
  points.forEach((p, i) => (i ? ctx.lineTo(x(p.t), y(p.bps)) : ctx.moveTo(x(p.t), y(p.bps))));
  ctx.stroke();
}

function setStatus(state, text) {
  const status = document.getElementById("status");
  status.dataset.state = state;
  status.textContent = text;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/discrepancy/ws${location.search}`);
  ws.onopen = () => setStatus("live", "live");
  ws.onmessage = (message) => render(JSON.parse(message.data));
  ws.onclose = () => {
    setStatus("down", "disconnected, retrying…");
    setTimeout(connect, 1000);
  };
}

connect();
