// The explorable's page: choose a preset, set its headline parameters, run, watch progress,
// read the result (headline run vs twin, figures, the EU AI Act audit), compare regimes, and
// reopen earlier runs. Talks to scoresim serve's JSON API only.
"use strict";

const { lineChart, barChart, fmt } = window.scoresimCharts;
const view = document.getElementById("view");
const COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7"];
let meta = null;          // /api/presets
let poller = null;        // the running job's status timer
let generation = 0;       // bumped at each route: a page left behind stops drawing

function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "on") for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
    else if (k === "text") e.textContent = v;
    else if (v === true) e.setAttribute(k, "");
    else if (v !== false && v !== null && v !== undefined) e.setAttribute(k, v);
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined)
    e.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  return e;
}

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const r = await fetch(path, init);
  const data = await r.json().catch(() => ({ error: "the server sent no JSON (" + r.status + ")" }));
  if (!r.ok) throw new Error(data.error || ("HTTP " + r.status));
  return data;
}

function defLink(anchor, text) {
  return h("a", { href: "/definitions#" + anchor, title: "what this number means" }, text);
}

function showError(box, message) {
  box.replaceChildren(h("p", { class: "error", role: "alert", "data-testid": "error" }, message));
}

async function loadMeta() {
  if (!meta) meta = await api("/api/presets");
  return meta;
}

// ------------------------------------------------------------------ new run
async function runForm() {
  const mine = generation;
  const m = await loadMeta();
  if (mine !== generation) return;
  const presets = Object.fromEntries(m.presets.map(p => [p.name, p]));
  const select = h("select", { id: "preset", name: "preset" },
    m.presets.map(p => h("option", { value: p.name, selected: p.name === "article" }, p.name)));
  const about = h("p", { class: "why", id: "preset-about" });
  const form = h("form", { class: "params", id: "run-form" });
  const fields = h("div", { style: "display:contents" });
  const problems = h("div");
  const number = (id, label, why, value, attrs) => h("div", { class: "field" },
    h("label", { for: id }, label), h("p", { class: "why" }, why),
    h("input", Object.assign({ type: "number", id, name: id, value }, attrs)));

  function fill() {
    const p = presets[select.value];
    about.textContent = p.description + (p.scheduled ? " (This preset changes its regime " +
      "during the run, by its schedule: its switches are fixed here.)" : "");
    const safe = h("div", { class: "checks" }, m.safeguards.map(s => [
      h("label", {}, h("input", { type: "checkbox", name: "sg-" + s.key, id: "sg-" + s.key,
        checked: p.safeguards[s.key], disabled: p.scheduled || s.key in p.locked }), s.label),
      h("p", { class: "why" }, s.explanation +
        (s.key in p.locked ? " Not in this regime: " + p.locked[s.key] + "." : ""))]));
    const pub = h("input", { type: "range", id: "publicity", name: "publicity", min: 0, max: 1,
      step: 0.05, value: p.publicity, disabled: p.scheduled });
    const pubOut = h("output", { for: "publicity" }, String(p.publicity));
    pub.addEventListener("input", () => { pubOut.textContent = pub.value; });
    fields.replaceChildren(
      number("persons", "Persons", m.parameters.persons + " At most " +
        m.limits.max_persons.toLocaleString("en") + " here.", p.persons,
        { min: 100, max: m.limits.max_persons, step: 100 }),
      number("years", "Years", m.parameters.years + " At most " + m.limits.max_years +
        " here; this regime moves in steps of a " + p.step + ".", +p.years.toFixed(4),
        { min: +p.step_years.toFixed(6), max: m.limits.max_years, step: "any" }),
      number("seed", "Seed", m.parameters.seed, p.seed, { min: 0, step: 1 }),
      h("div", { class: "field" }, h("label", { for: "association" }, "Association"),
        h("p", { class: "why" }, m.parameters.association +
          (p.association_available ? "" : " This regime has none.")),
        h("label", { class: "checks" }, h("input", { type: "checkbox", id: "association",
          checked: p.association, disabled: !p.association_available || p.scheduled }),
          "penalise people for their contacts")),
      number("false_record_rate", "False-record rate", m.parameters.false_record_rate,
        p.false_record_rate, { min: 0, max: 0.5, step: 0.001 }),
      h("div", { class: "field" }, h("label", { for: "publicity" }, "Publicity"),
        h("p", { class: "why" }, m.parameters.publicity), pub, " ", pubOut),
      h("div", { class: "field" }, h("label", { for: "twin" }, "Twin"),
        h("p", { class: "why" }, m.parameters.twin),
        h("label", { class: "checks" }, h("input", { type: "checkbox", id: "twin", checked: true }),
          "run the twin")),
      h("div", { class: "field wide" }, h("label", {}, "Safeguards"),
        h("p", { class: "why" }, "Each as the EU AI Act's bounds would have it (the " +
          "eu-safeguards preset has all on)."), safe));
  }
  select.addEventListener("change", fill);
  form.append(h("div", { class: "field wide" }, h("label", { for: "preset" }, "Regime (preset)"),
    select, about), fields,
    h("div", { class: "wide row" }, h("button", { type: "submit", id: "run" }, "Run"),
      h("span", { class: "muted" }, "Small societies take seconds; 100,000 persons over five years take a minute or two.")));
  form.addEventListener("submit", async evt => {
    evt.preventDefault();
    const p = presets[select.value];
    const body = {
      preset: select.value,
      persons: Number(form.persons.value),
      years: Number(form.years.value),
      seed: Number(form.seed.value),
      false_record_rate: Number(form.false_record_rate.value),
      twin: form.querySelector("#twin").checked,
    };
    if (!p.scheduled) {
      body.publicity = Number(form.publicity.value);
      if (p.association_available) body.association = form.querySelector("#association").checked;
      body.safeguards = Object.fromEntries(m.safeguards.filter(s => !(s.key in p.locked)).map(
        s => [s.key, form.querySelector("#sg-" + s.key).checked]));
    }
    try {
      const job = await api("/api/runs", body);
      location.hash = "#/job/" + job.id;
    } catch (e) { showError(problems, e.message); }
  });
  fill();
  view.replaceChildren(h("h1", {}, "Put a society under a social credit system"),
    h("p", {}, "Choose a regime, change what you want to test, and run it. The result compares " +
      "the society under the regime with its twin under no system."), form, problems);
}

// ------------------------------------------------------------------ compare
async function compareForm() {
  const mine = generation;
  const m = await loadMeta();
  if (mine !== generation) return;
  const problems = h("div");
  const boxes = m.presets.filter(p => p.comparable).map(p =>
    h("label", {}, h("input", { type: "checkbox", name: "regime", value: p.name,
      checked: p.name === "article" || p.name === "eu-safeguards" }),
      h("span", {}, p.name + " — ", h("span", { class: "muted" }, p.description))));
  const form = h("form", { class: "params", id: "compare-form" },
    h("div", { class: "field wide checks" }, h("label", {}, "Regimes (two to four)"), boxes),
    h("div", { class: "field" }, h("label", { for: "c-persons" }, "Persons"),
      h("p", { class: "why" }, m.parameters.persons),
      h("input", { type: "number", id: "c-persons", value: m.limits.default_persons, min: 100,
        max: m.limits.max_persons, step: 100 })),
    h("div", { class: "field" }, h("label", { for: "c-years" }, "Years"),
      h("p", { class: "why" }, m.parameters.years),
      h("input", { type: "number", id: "c-years", value: Math.min(5, m.limits.max_years),
        min: 0.02, max: m.limits.max_years, step: "any" })),
    h("div", { class: "wide row" }, h("button", { type: "submit", id: "compare" }, "Compare")));
  form.addEventListener("submit", async evt => {
    evt.preventDefault();
    const chosen = [...form.querySelectorAll("input[name=regime]:checked")].map(x => x.value);
    try {
      const job = await api("/api/compare", { presets: chosen,
        persons: Number(form.querySelector("#c-persons").value),
        years: Number(form.querySelector("#c-years").value) });
      location.hash = "#/job/" + job.id;
    } catch (e) { showError(problems, e.message); }
  });
  view.replaceChildren(h("h1", {}, "Compare regimes on one society"),
    h("p", {}, "Up to four regimes over the same synthetic society, with one twin under no " +
      "system: every difference between them is the regimes'."), form, problems);
}

// ------------------------------------------------------------------ earlier runs
async function runsList() {
  const mine = generation;
  const data = await api("/api/jobs");
  if (mine !== generation) return;
  const rows = data.jobs.map(j => h("tr", {},
    h("td", {}, h("a", { href: "#/job/" + j.id }, j.title)),
    h("td", {}, j.kind),
    h("td", {}, h("span", { class: "pill " + j.state }, j.state),
      j.state === "running" ? " " + Math.round(100 * j.progress.fraction) + " %" : ""),
    h("td", {}, new Date(j.created * 1000).toLocaleString()),
    h("td", { class: "muted" }, j.note || j.error || "")));
  view.replaceChildren(h("h1", {}, "Earlier runs"),
    data.jobs.length ? h("div", { class: "scroll" }, h("table", { id: "runs" },
      h("thead", {}, h("tr", {}, ["run", "kind", "state", "started", "note"].map(x => h("th", {}, x)))),
      h("tbody", {}, rows)))
      : h("p", { class: "muted" }, "No runs yet on this server."));
}

// ------------------------------------------------------------------ one job
async function jobPage(id) {
  const head = h("div");
  const body = h("div");
  const mine = generation;
  view.replaceChildren(head, body);
  const tick = async () => {
    let job;
    try { job = await api("/api/jobs/" + id); } catch (e) {
      if (mine !== generation) return;
      if (e.message.startsWith("no job")) { showError(body, e.message); return; }
      showError(body, "The server does not answer (" + e.message + "); trying again …");
      poller = setTimeout(tick, 2000);  // a server restarting resumes its jobs
      return;
    }
    if (mine !== generation) return;  // the visitor went elsewhere meanwhile
    head.replaceChildren(h("h1", {}, job.title),
      h("p", { class: "muted" }, job.kind === "run" ? "run beside its twin" : "regimes compared",
        job.note ? " · " + job.note : ""));
    if (job.state === "done") { await showResult(job, body); return; }
    if (job.state === "failed") { showError(body, "The job failed: " + job.error); return; }
    const pct = Math.round(100 * job.progress.fraction);
    const words = job.state === "queued"
      ? "waiting in the queue" + (job.position ? " (" + job.position + " ahead of it incl. itself)" : "")
      : job.progress.phase + (job.progress.step !== undefined ?
          " · step " + job.progress.step + " of " + job.progress.steps : "") + " · " + pct + " %";
    body.replaceChildren(h("div", { class: "progress", role: "progressbar", "aria-valuenow": pct,
      "aria-valuemin": 0, "aria-valuemax": 100, "data-testid": "progress" },
      h("div", { style: "width:" + pct + "%" })),
      h("p", { id: "progress-text" }, words));
    poller = setTimeout(tick, 700);
  };
  await tick();
}

async function showResult(job, box) {
  const r = await api("/api/jobs/" + job.id + "/result");
  const links = h("p", { class: "row" },
    h("a", { href: "/api/jobs/" + job.id + "/download", id: "download", download: "" },
      "Download the run directory (zip)"),
    r.report ? h("a", { href: "/jobs/" + job.id + "/report.html", target: "_blank" },
      "Full report") : null);
  if (r.kind === "compare") return showComparison(r, box, links);
  const table = h("table", { id: "headline" },
    h("thead", {}, h("tr", {}, h("th", {}, "metric"), h("th", { class: "num" }, "run"),
      h("th", { class: "num" }, "how many"), h("th", { class: "num" }, r.twin ? "twin (no system)" : "twin"))),
    h("tbody", {}, r.headline.map(row => h("tr", { "data-key": row.key },
      h("td", {}, defLink(row.anchor, row.label)),
      h("td", { class: "num" }, defLink(row.anchor, row.run_text)),
      h("td", { class: "num muted" }, row.count),
      h("td", { class: "num" }, defLink(row.anchor, row.twin_text))))));
  const group = h("select", { id: "group" }, r.groups.map(g => h("option", { value: g }, g)));
  const figs = h("div", { class: "figs", id: "figures" });
  let asked = 0;
  const drawFigures = async () => {
    const mine = ++asked;
    const s = await api("/api/jobs/" + job.id + "/series?group=" + encodeURIComponent(group.value));
    if (mine !== asked) return;  // a later choice of group is on its way
    figs.replaceChildren();
    for (const f of r.figures) {
      const data = s.series[f.key];
      if (!data) continue;
      const tip = h("div", { class: "tip" }, "hover or tap to read; drag to zoom");
      const reset = h("button", { class: "quiet reset", hidden: true }, "reset zoom");
      const card = h("div", { class: "fig", "data-figure": f.key },
        h("h3", {}, h("a", { href: "/definitions#figure-" + f.key, title: f.definition }, f.title)),
        reset, tip);
      figs.appendChild(card);
      const lines = [{ name: "run", values: data.run, cls: "run", color: "#0072B2" }];
      if (data.twin) lines.push({ name: "twin", values: data.twin, cls: "twin", color: "#777" });
      const chart = lineChart(card, s.years, lines, { percent: f.percent, tip, title: f.title,
        onZoom: z => { reset.hidden = !z; } });
      card.insertBefore(card.lastChild, tip);
      reset.addEventListener("click", () => chart.reset());
    }
  };
  group.addEventListener("change", drawFigures);
  const audit = ["audit_matrix", "firm_audit_matrix"].map(key => {
    const a = r.audit[key];
    const who = key === "audit_matrix" ? "persons (person-steps)" : "firms (firm-steps)";
    if (!a.rows.length) return h("p", { class: "muted none" }, "No sanction applied to " + who.split(" ")[0] + ".");
    return h("div", { class: "scroll" }, h("table", { class: "audit", "data-audit": key },
      h("thead", {}, h("tr", {}, h("th", {}, defLink(key, who + ": data → sanction")),
        a.columns.map(c => h("th", { class: "num" }, c)))),
      h("tbody", {}, a.rows.map((row, i) => h("tr", {}, h("td", {}, row),
        a.values[i].map(v => h("td", { class: "num" }, defLink(key, v.toLocaleString("en")))))))));
  });
  const market = r.lending ? [h("h2", {}, "Credit market"),
    h("p", {}, "Persons apply for loans, the regime's lender decides from each group's scores, " +
      "and loans are repaid with the probability at the applicant's score."),
    h("div", { class: "scroll" }, h("table", { id: "lending" },
      h("thead", {}, h("tr", {}, h("th", {}, ""), r.lending.columns.map(c => h("th", { class: "num" }, c)))),
      h("tbody", {}, r.lending.rows.map(row => h("tr", {}, h("td", {}, defLink("lending", row.label)),
        row.values.map(v => h("td", { class: "num" }, defLink("lending", v))))))))] : [];
  const auditLine = r.headline.filter(x => ["unrelated_context_share", "disproportionate_share",
    "association_sanctioned_steps_share"].includes(x.key));
  box.replaceChildren(
    h("p", {}, r.persons.toLocaleString("en") + " persons · " + r.years + " years · seed " + r.seed +
      (r.twin ? "" : " · no twin")),
    links,
    ...market,
    h("h2", {}, "Headline: run against its twin"),
    h("div", { class: "scroll" }, table),
    h("h2", {}, "Over time"),
    h("p", { class: "row" }, h("label", { for: "group" }, "Group: "), group,
      h("span", { class: "legend" }, h("span", { class: "run" }, "— run"), "  ",
        h("span", { class: "twin" }, "- - twin (no system)"))),
    figs,
    h("h2", {}, "EU AI Act audit (Art. 5(1)(c))"),
    h("p", {}, "Regulation (EU) 2024/1689 bans social scoring that leads to detrimental treatment " +
      "in contexts unrelated to where the data came from (i), or that is unjustified or " +
      "disproportionate (ii). This run:"),
    h("ul", {}, auditLine.map(x => h("li", {}, defLink(x.anchor, x.label + ": " + x.run_text)))),
    h("div", { id: "audit" }, audit));
  await drawFigures();
}

function showComparison(r, box, links) {
  const metric = h("select", { id: "metric" }, r.rows.map(row => h("option", { value: row.key }, row.label)));
  const fig = h("div", { class: "fig", id: "compare-figure" });
  const drawBars = () => {
    const row = r.rows.find(x => x.key === metric.value);
    const tip = h("div", { class: "tip" }, "hover or tap a bar");
    fig.replaceChildren(h("h3", {}, defLink(row.anchor, row.label)), tip);
    barChart(fig, r.regimes, row.raw, { percent: row.kind === "pct", tip, colors: COLORS,
      title: row.label });
    fig.appendChild(tip);
  };
  metric.addEventListener("change", drawBars);
  const table = h("table", { id: "comparison" },
    h("thead", {}, h("tr", {}, h("th", {}, "metric"), r.regimes.map(p => h("th", { class: "num" }, p)),
      h("th", { class: "num" }, "twin (no system)"))),
    h("tbody", {}, r.rows.map(row => h("tr", { "data-key": row.key },
      h("td", {}, defLink(row.anchor, row.label)),
      row.values.map(v => h("td", { class: "num" }, defLink(row.anchor, v))),
      h("td", { class: "num" }, defLink(row.anchor, row.twin))))));
  box.replaceChildren(links, h("h2", {}, "Regimes side by side"),
    h("p", { class: "row" }, h("label", { for: "metric" }, "Figure: "), metric),
    fig, h("div", { class: "scroll" }, table));
  drawBars();
}

// ------------------------------------------------------------------ routing
async function route() {
  generation += 1;
  if (poller) { clearTimeout(poller); poller = null; }
  const hash = location.hash || "#/";
  const page = hash.startsWith("#/job/") ? "job" : hash.startsWith("#/compare") ? "compare"
    : hash.startsWith("#/runs") ? "runs" : "run";
  for (const a of document.querySelectorAll("nav a[data-nav]"))
    a.classList.toggle("on", a.dataset.nav === page);
  try {
    if (page === "job") await jobPage(hash.slice(6));
    else if (page === "compare") await compareForm();
    else if (page === "runs") await runsList();
    else await runForm();
  } catch (e) { showError(view, e.message); }
}
window.addEventListener("hashchange", route);
route();
