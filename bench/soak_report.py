"""bench/soak's report: data verification, server and VM restarts from the supervisor's log, RSS
growth verdicts, and the RSS plot (SVG, PNG with a headless Chromium). See bench/soak."""
import os, re, shutil, statistics, subprocess

PLATFORM = "soak"
BLOCK_SLOT = 512
FS_SLOT = 64


# ---------------------------------------------------------------- report

def growth(series):
    """series: [(t, rss)] of one pid after its warm-up. Returns (first, last, KiB per minute, verdict)."""
    s = [r for _, r in series]
    if len(s) < 6:
        return None, None, None, "short"
    k = min(5, len(s) // 2)
    first, last = statistics.median(s[:k]), statistics.median(s[-k:])
    ts = [t / 60 for t, _ in series]
    tm, rm = statistics.mean(ts), statistics.mean(s)
    var = sum((t - tm) ** 2 for t in ts)
    slope = sum((t - tm) * (r - rm) for t, r in zip(ts, s)) / var if var else 0.0
    return first, last, slope, ("grows" if last - first > max(4096, 0.10 * first) else "flat")


class Report:
    def __init__(self, soak, status):
        self.s, self.status = soak, status

    def text(self):
        s = self.s
        lines = [f"bench/soak: {len(s.vms)} VMs, {s.elapsed() / 60:.1f} min, {len(s.kills)} server kills; {s.out}", ""]
        lost_total, acked_total, stalled = 0, 0, []
        lines.append("Data (acknowledged records looked up in the host's image / share file):")
        lines.append(f"  {'vm':8} {'kind':5} {'acked':>7} {'lost':>5} {'errors':>6} {'io-err':>6} {'runs':>4} {'max ack gap':>11}")
        for v in s.vms:
            name = v["name"]
            times = s.ack_times[name]
            gaps = [b - a for (a, ra), (b, rb) in zip(times, times[1:]) if ra == rb]   # within one boot's run
            gap = f"{max(gaps):.1f} s" if gaps else "-"
            # Stalled: this boot's workload runs but has acknowledged nothing for a minute at the end.
            began = s.run_started.get(name)
            last = max([began] + [t for t, _ in times if t >= began]) if began is not None else None
            if last is not None and s.end_t is not None and s.end_t - last > 60:
                stalled.append(f"{name} ({s.end_t - last:.0f} s)")
            for kind in ("b", "f") if v["fs"] else ("b",):
                acked = s.acks[name][kind]
                lost = self.verify(name, kind, acked)
                lost_total += len(lost)
                acked_total += len(acked)
                errs = sum(1 for e in s.errors[name] if f" {kind} " in e)
                lines.append(f"  {name:8} {'block' if kind == 'b' else 'fs':5} {len(acked):7} {len(lost):5} {errs:6} "
                             f"{s.io_errors[name] if kind == 'b' else '':>6} {s.runs[name]:4} {gap:>11}")
                for slot, run, got in lost[:5]:
                    lines.append(f"      LOST slot {slot} (r{run}): found {got!r}")
        lines.append(f"  lost records: {lost_total} of {acked_total} acknowledged (expected 0)")
        lines.append(f"  stalled at the end (workload running, no acknowledgement for 60 s): {len(stalled)} {', '.join(stalled)}")
        lines.append("")
        kills = {}
        for _, name, _, back, _ in s.kills:
            kills.setdefault(name, []).append(back)
        server_exits, vm_exits = self.supervisor_log()
        lines.append("Servers (kills: SIGKILLs by the soak; other exits: any exit the soak did not cause; back: slowest restart):")
        lines.append(f"  {'server':16} {'kind':8} {'kills':>5} {'restarts':>8} {'back (max)':>10}  {'state':10} other exits")
        kind = lambda e: e["kind"].split("/")[-1]
        unexpected, error_lines = [], []
        for e in self.status.get("servers", []):
            backs = kills.get(e["name"], [])
            worst = "never" if None in backs else (f"{max(backs):.1f} s" if backs else "-")
            exits = server_exits.get(e["name"], [])
            others = list(exits)
            for _ in backs:
                if "signal 9" in others:
                    others.remove("signal 9")
            if others:
                unexpected.append(e["name"])
            summary = ", ".join(f"{x} x{others.count(x)}" for x in sorted(set(others)))
            lines.append(f"  {e['name']:16} {kind(e):8} {len(backs):5} {e['restarts']:8} {worst:>10}  {e['state']:10} {summary}")
            for message, count in sorted(self.server_errors(e["name"]).items(), key=lambda kv: -kv[1])[:3]:
                error_lines.append(f"  {e['name']:16} x{count:<4} {message}")
        if error_lines:
            lines.append("Server log errors (most frequent first, up to 3 per server):")
            lines += error_lines
        lines.append("VMs (restarts: with a server QEMU cannot reconnect to, after QEMU aborted on a reconnect, or a guest panic):")
        down, silent = [], []
        for e in self.status.get("vms", []):
            reasons = vm_exits.get(e["name"], [])
            summary = ", ".join(f"{x} x{reasons.count(x)}" for x in sorted(set(reasons)))
            lines.append(f"  {e['name']:8} restarts {e['restarts']:3}  boots seen {s.boots.get(e['name'], 0):3}  {e['state']:11} {summary}")
            if e["state"] not in ("running", "restarting"):
                down.append(e["name"])
            if e["name"] in s.acks and not s.acks[e["name"]]["b"]:
                silent.append(e["name"])
        lines.append(f"  VMs not running at the end: {len(down)} {down if down else ''}")
        lines.append(f"  VMs that acknowledged no record: {len(silent)} {silent if silent else ''}")
        lines.append(f"  servers that exited without being killed: {len(unexpected)} {unexpected if unexpected else ''}")
        not_back = [(t, n) for t, n, _, b, _ in s.kills if b is None]
        orphans = [(t, n, o) for t, n, _, _, o in s.kills if o]
        lines.append(f"  servers not back within 60 s: {len(not_back)} {not_back if not_back else ''}")
        lines.append(f"  killed servers with processes left alive: {len(orphans)} {orphans if orphans else ''}")
        lines.append("")
        lines.append("RSS (KiB; each server's process tree; samples, first, last: its longest-lived pid after warm-up, medians of 5):")
        lines.append(f"  {'process':16} {'pids':>4} {'samples':>7} {'first':>8} {'last':>8} {'max':>8} {'KiB/min':>8}  verdict")
        grows = []
        by_name = {}
        for t, name, pid, rss in s.samples:
            by_name.setdefault(name, {}).setdefault(pid, []).append((t, rss))
        warm = s.warm_t if s.warm_t is not None else s.elapsed()
        for name in sorted(by_name, key=lambda n: (n.startswith("vm:"), n != "supervisor", n)):
            pids = by_name[name]
            first_pid = min(pids, key=lambda p: pids[p][0][0])
            # Warm-up: until every VM booted for the first process, its first minute for a restarted one.
            settled = [[(t, r) for t, r in ser if t >= (warm if p == first_pid else max(warm, ser[0][0] + 60))]
                       for p, ser in pids.items()]
            longest = max(settled, key=len)
            first, last, slope, verdict = growth(longest)
            if name.startswith("vm:"):
                verdict = "(guest RAM)"
            mx = max(r for ser in pids.values() for _, r in ser)
            if verdict == "grows":
                grows.append(name)
            fmt = lambda x: "-" if x is None else f"{int(x)}"
            lines.append(f"  {name:16} {len(pids):4} {len(longest):7} {fmt(first):>8} {fmt(last):>8} {mx:8} "
                         f"{'-' if slope is None else f'{slope:.0f}':>8}  {verdict}")
        lines.append(f"  growth: {', '.join(grows) if grows else 'none'}")
        io_errors = sum(s.io_errors.values()) + sum(len(e) for e in s.errors.values())
        problems = [lost_total, len(not_back), len(orphans), len(grows), len(unexpected), len(down), len(silent), io_errors, len(stalled)]
        verdict = "PASS" if not any(problems) else "FAIL"
        lines.append("")
        lines.append(f"verdict: {verdict} (lost {lost_total}, guest I/O errors {io_errors}, servers not back {len(not_back)}, "
                     f"orphans {len(orphans)}, unexpected server exits {len(unexpected)}, VMs down {len(down)}, "
                     f"VMs without data {len(silent)}, stalled {len(stalled)}, growing {len(grows)})")
        return "\n".join(lines) + "\n"

    def supervisor_log(self):
        """From avp up's log: each server's exits (signal or status) and each VM's exits with the reason."""
        servers, vms = {}, {}
        try:
            text = open(os.path.join(self.s.out, "up.log"), errors="replace").read()
        except OSError:
            return servers, vms
        for m in re.finditer(r"server (\S+) exited \(([^)]*)\)", text):
            servers.setdefault(m.group(1), []).append(m.group(2))
        for m in re.finditer(r"VM (\S+) exited \(([^)]*)\)(?:; restarting \(([^)]*)\))?", text):
            vms.setdefault(m.group(1), []).append(m.group(2) + (f", {m.group(3)}" if m.group(3) else ""))
        return servers, vms

    def server_errors(self, name):
        """Error lines in a server's log, counted by message (timestamps and numbers dropped)."""
        counts = {}
        try:
            with open(os.path.join(self.s.state, PLATFORM, "logs", f"server-{name}.log"), errors="replace") as f:
                for line in f:
                    if " error " in line or "seccomp" in line or "fatal" in line.lower():
                        key = re.sub(r"\d+", "N", line.split("] ", 1)[-1].strip())[:110]
                        counts[key] = counts.get(key, 0) + 1
        except OSError:
            pass
        return counts

    def verify(self, name, kind, acked):
        path = os.path.join(self.s.out, "disks", f"{name}.img") if kind == "b" else os.path.join(self.s.out, "share", f"{name}.dat")
        size = BLOCK_SLOT if kind == "b" else FS_SLOT
        lost = []
        try:
            f = open(path, "rb")
        except OSError:
            return [(slot, run, "no file") for slot, run in sorted(acked.items())]
        with f:
            for slot, run in sorted(acked.items()):
                f.seek(slot * size)
                got = f.read(size)
                want = f"SOAK {name} r{run} {slot}\n".encode()
                if not got.startswith(want):
                    lost.append((slot, run, got.split(b"\n")[0][:40]))
        return lost


# ---------------------------------------------------------------- plot

def write_svg(soak, path):
    """Small multiples: one panel per server (and the supervisor), each with its own RSS scale in MiB,
    one line per process (a restart starts a new line), red ticks where the soak killed it."""
    series = {}
    for t, name, pid, rss in soak.samples:
        if not name.startswith("vm:"):
            series.setdefault(name, {}).setdefault(pid, []).append((t, rss / 1024))
    names = sorted(series, key=lambda n: (n != "supervisor", n))
    cols, pw, ph, gap = 5, 210, 120, 14
    rows = max(1, (len(names) + cols - 1) // cols)
    W, H = cols * (pw + gap) + gap, 50 + rows * (ph + 34)
    tmax = max([t for t, *_ in soak.samples] + [1])
    warm = soak.warm_t
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="10">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{gap}" y="18" font-size="13">bench/soak: RSS (MiB) of each server\'s process tree and of the supervisor over '
         f'{tmax / 60:.1f} min, {len(soak.kills)} kills</text>',
         f'<text x="{gap}" y="34" font-size="11" fill="#555">each panel has its own scale; a new line after a restart; '
         f'red ticks: SIGKILL by the soak; grey area: warm-up (not judged)</text>']
    for i, name in enumerate(names):
        pids = series[name]
        x0, y0 = gap + (i % cols) * (pw + gap), 50 + (i // cols) * (ph + 34)
        values = [r for pts in pids.values() for _, r in pts]
        lo, hi = min(values), max(values)
        pad = max(0.5, (hi - lo) * 0.1)
        lo, hi = max(0, lo - pad), hi + pad
        x = lambda t: x0 + pw * t / tmax
        y = lambda r: y0 + ph - ph * (r - lo) / (hi - lo)
        o.append(f'<text x="{x0}" y="{y0 - 4}" font-size="11" font-weight="bold">{name}</text>')
        if warm:
            o.append(f'<rect x="{x0}" y="{y0}" width="{x(warm) - x0:.1f}" height="{ph}" fill="#eee"/>')
        o.append(f'<rect x="{x0}" y="{y0}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
        o.append(f'<text x="{x0 + pw - 2}" y="{y0 + 10}" text-anchor="end" fill="#555">{hi:.1f}</text>'
                 f'<text x="{x0 + pw - 2}" y="{y0 + ph - 3}" text-anchor="end" fill="#555">{lo:.1f}</text>')
        for t, killed, *_ in soak.kills:
            if killed == name:
                o.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{y0}" y2="{y0 + ph}" stroke="red" stroke-dasharray="2,2"/>')
        for pid, pts in pids.items():
            if len(pts) == 1:
                o.append(f'<circle cx="{x(pts[0][0]):.1f}" cy="{y(pts[0][1]):.1f}" r="1.5" fill="#1f77b4"/>')
            else:
                p = " ".join(f"{x(t):.1f},{y(r):.1f}" for t, r in pts)
                o.append(f'<polyline points="{p}" fill="none" stroke="#1f77b4" stroke-width="1.5"><title>{name} pid {pid}</title></polyline>')
        o.append(f'<text x="{x0}" y="{y0 + ph + 12}" fill="#555">0</text>'
                 f'<text x="{x0 + pw}" y="{y0 + ph + 12}" text-anchor="end" fill="#555">{tmax / 60:.1f} min</text>')
    o.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")


def render_png(svg):
    """rss.png beside rss.svg when a headless Chromium is installed (nothing otherwise)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not browser:
        return False
    import xml.etree.ElementTree as ET
    root = ET.parse(svg).getroot()
    png = svg[:-4] + ".png"
    try:
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--screenshot={png}",
                        f"--window-size={root.get('width')},{root.get('height')}", "file://" + svg],
                       capture_output=True, timeout=90)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return os.path.exists(png)
