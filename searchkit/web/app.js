// The search page: asks /api/search and /api/trend, and draws what they answer.  Every text
// of a post goes into the page as text (textContent, text nodes), never as markup.
"use strict";

const state = { q: "", page: 1, since: "", until: "", tags: [], categories: [], years: [] };
const $ = (id) => document.getElementById(id);

function params(extra) {
  const p = new URLSearchParams();
  if (state.q) p.set("q", state.q);
  if (state.since) p.set("since", state.since);
  if (state.until) p.set("until", state.until);
  state.tags.forEach((t) => p.append("tag", t));
  state.categories.forEach((c) => p.append("category", c));
  for (const [k, v] of Object.entries(extra || {})) p.set(k, v);
  return p;
}

function marked(text, spans) {
  // the snippet's text with each [start, end) span in a <mark>, built as nodes
  const out = document.createDocumentFragment();
  let at = 0;
  for (const [start, end] of spans) {
    out.append(document.createTextNode(text.slice(at, start)));
    const m = document.createElement("mark");
    m.textContent = text.slice(start, end);
    out.append(m);
    at = end;
  }
  out.append(document.createTextNode(text.slice(at)));
  return out;
}

function plain(snippet) {
  return snippet.replace(/<\/?mark>/g, "");
}

function drawHits(result) {
  const list = $("hits");
  list.replaceChildren();
  list.start = result.hits.length ? result.hits[0].rank : 1;
  for (const hit of result.hits) {
    const li = document.createElement("li");
    li.className = "hit";
    const title = document.createElement(hit.url ? "a" : "strong");
    if (hit.url && /^https?:\/\//.test(hit.url)) title.href = hit.url;
    title.className = "title";
    title.textContent = hit.title || hit.path;
    const meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = [(hit.date || "").slice(0, 10), hit.categories.join(" "), hit.path].filter(Boolean).join("  ");
    const snippet = document.createElement("div");
    snippet.className = "snippet";
    snippet.append(marked(plain(hit.snippet), hit.highlights));
    li.append(title, meta, snippet);
    list.append(li);
  }
  const first = result.hits.length ? result.hits[0].rank : 0;
  const last = result.hits.length ? result.hits[result.hits.length - 1].rank : 0;
  let summary = `${first}-${last} of ${result.total} hits (${Math.round(result.took_ms)} ms)`;
  if (result.missing && result.missing.length) summary = `no post holds: ${result.missing.join(" ")} · ` + summary;
  $("summary").textContent = summary;
  $("page").textContent = `page ${state.page}`;
  $("prev").disabled = state.page <= 1;
  $("next").disabled = last >= result.total;
}

function drawFacets(facets) {
  const box = $("facets");
  box.replaceChildren();
  for (const [name, key] of [["categories", "categories"], ["tags", "tags"], ["years", "years"]]) {
    const counts = Object.entries(facets[name] || {}).slice(0, 12);
    if (!counts.length) continue;
    const h = document.createElement("h3");
    h.textContent = name;
    box.append(h);
    for (const [value, count] of counts) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "facet" + (state[key].includes(value) ? " on" : "");
      b.dataset.facet = key;
      b.textContent = `${value} (${count})`;
      b.addEventListener("click", () => toggle(key, value));
      box.append(b);
    }
  }
}

function toggle(key, value) {
  if (key === "years") {
    state.since = state.since === `${value}-01-01` ? "" : `${value}-01-01`;
    state.until = state.until === `${value}-12-31` ? "" : `${value}-12-31`;
    $("since").value = state.since;
    $("until").value = state.until;
  } else {
    const list = state[key];
    const at = list.indexOf(value);
    if (at >= 0) list.splice(at, 1); else list.push(value);
  }
  state.page = 1;
  run();
}

function drawTrend(trend) {
  const svg = $("trend");
  svg.replaceChildren();
  const counts = trend.series && trend.series[0] ? trend.series[0].counts : [];
  const top = Math.max(1, ...counts);
  const width = 600, height = 80, step = counts.length ? width / counts.length : width;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  counts.forEach((count, i) => {
    const r = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    const h = (count / top) * (height - 4);
    r.setAttribute("x", String(i * step));
    r.setAttribute("y", String(height - h));
    r.setAttribute("width", String(Math.max(step - 1, 1)));
    r.setAttribute("height", String(h));
    const t = document.createElementNS("http://www.w3.org/2000/svg", "title");
    t.textContent = `${trend.periods[i]}: ${count}`;
    r.append(t);
    svg.append(r);
  });
}

async function ask(path, p) {
  const response = await fetch(`${path}?${p}`);
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

async function run() {
  if (!state.q && !state.since && !state.until && !state.tags.length && !state.categories.length) return;
  try {
    const result = await ask("/api/search", params({ page: state.page, facets: "1", collapse: "1" }));
    drawHits(result);
    drawFacets(result.facets || {});
    if (state.q) drawTrend(await ask("/api/trend", params({ by: "month" })));
    else $("trend").replaceChildren();
  } catch (error) {
    $("hits").replaceChildren();
    $("summary").textContent = String(error.message || error);
  }
}

$("search").addEventListener("submit", (event) => {
  event.preventDefault();
  state.q = $("q").value.trim();
  state.since = $("since").value;
  state.until = $("until").value;
  state.page = 1;
  run();
});
$("prev").addEventListener("click", () => { state.page -= 1; run(); });
$("next").addEventListener("click", () => { state.page += 1; run(); });
