package reports

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/gonogo-dev/gonogo/analyze"
)

// chromiumPath finds the Debian chromium binary. Without one the test is
// skipped, or fails when GONOGO_REQUIRE_CHROMIUM=1 (CI, scripts/test.sh).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"chromium", "/usr/bin/chromium"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("GONOGO_REQUIRE_CHROMIUM") == "1" {
		t.Fatal("chromium not found and GONOGO_REQUIRE_CHROMIUM=1: apt-get install chromium")
	}
	t.Skip("chromium not found: apt-get install chromium to run the browser test of the HTML report")
	return ""
}

// artifactDir is $GONOGO_ARTIFACTS when set (created if needed), else a
// temporary directory of the test.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("GONOGO_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// pageProblems collects what a page must not do: console errors,
// uncaught exceptions, browser log errors and requests for anything but
// the pages themselves.
type pageProblems struct {
	mu   sync.Mutex
	list []string
}

func (p *pageProblems) add(format string, a ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.list = append(p.list, fmt.Sprintf(format, a...))
}

func (p *pageProblems) all() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.list...)
}

// listen is a chromedp listener; it runs in the tab's read loop, so it only
// records.
func (p *pageProblems) listen(pageURLs ...string) func(ev any) {
	return func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				p.add("console.error: %s", strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			p.add("exception: %s", ev.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				p.add("log error: %s (%s)", ev.Entry.Text, ev.Entry.URL)
			}
		case *network.EventRequestWillBeSent:
			if u := ev.Request.URL; !slices.Contains(pageURLs, u) && !strings.HasPrefix(u, "data:") {
				p.add("request for %s: the report must be self-contained", u)
			}
		}
	}
}

// chartBox is what the browser reports of one inline chart.
type chartBox struct {
	Label  string  `json:"label"`
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
	Paths  int     `json:"paths"`
	Drawn  int     `json:"drawn"`
	// Shaded counts the event span bands on screen: translucent fills
	// taller than a legend swatch, inside the chart.
	Shaded int `json:"shaded"`
}

const chartsJS = `Array.from(document.querySelectorAll('svg.chart')).map(s => {
	const r = s.getBoundingClientRect();
	const paths = Array.from(s.querySelectorAll('path'));
	return {
		label: s.getAttribute('aria-label') || '',
		width: r.width, height: r.height, paths: paths.length,
		drawn: paths.filter(p => p.getTotalLength() > 0 && p.getBBox().width > 0).length,
		shaded: paths.filter(p => {
			const st = getComputedStyle(p), b = p.getBoundingClientRect();
			const op = parseFloat(st.fillOpacity);
			return st.fill !== 'none' && op > 0.05 && op < 0.5 && st.visibility === 'visible' &&
				b.width >= 2 && b.height >= 40 && b.left >= r.left && b.right <= r.right && b.top >= r.top && b.bottom <= r.bottom;
		}).length,
	};
})`

// partialBannerJS is the verdict banner's background colour and the
// partial-run line, empty when the line is not visible.
const partialBannerJS = `(() => {
	const b = document.querySelector('#verdict'), p = document.querySelector('#partial');
	const r = p ? p.getBoundingClientRect() : {width: 0, height: 0};
	return [getComputedStyle(b).backgroundColor, r.width > 0 && r.height > 0 ? p.innerText : ''];
})()`

// byTagJS is the first cell of each row of the "By tag" tables as the
// browser shows it, and the number of elements markup in a tag value
// would have made.
const byTagJS = `(() => {
	const cells = Array.from(document.querySelectorAll('#by-tag table.by-tag tbody tr')).map(r => r.cells[0].innerText);
	return [cells.join('\n'), String(document.querySelectorAll('#by-tag b').length)];
})()`

const bannerJS = `(() => {
	const b = document.querySelector('#verdict');
	const r = b.getBoundingClientRect();
	const st = getComputedStyle(b);
	return r.width > 0 && r.height > 0 && st.visibility === 'visible' && st.display !== 'none' ? b.innerText : '';
})()`

func TestHTMLInChromium(t *testing.T) {
	chromium := chromiumPath(t)
	dir := artifactDir(t)
	path, err := filepath.Abs(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	// A tag value whose markup must show as text.
	fixture := htmlFixture(t)
	fixture.Run.Tags = map[string]analyze.Stats{"target=<b>chat</b>": fixture.Run.Overall}
	if err := os.WriteFile(path, []byte(renderHTML(t, fixture)), 0o644); err != nil {
		t.Fatal(err)
	}
	pageURL := "file://" + path
	// An interrupted run judged go, whose banner must not look like a pass.
	partial := htmlFixture(t)
	partial.Run = partialRun(partial.Run, StatusInterrupted)
	partial.Verdict = goVerdict(partial.Run.ID)
	partialPath := filepath.Join(filepath.Dir(path), "report-partial.html")
	if err := os.WriteFile(partialPath, []byte(renderHTML(t, partial)), 0o644); err != nil {
		t.Fatal(err)
	}
	partialURL := "file://" + partialPath

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	var problems pageProblems
	bctx, cancelTab := chromedp.NewContext(actx, chromedp.WithListener(problems.listen(pageURL, partialURL)))
	defer cancelTab()

	if err := chromedp.Do(bctx, chromedp.Navigate(pageURL), chromedp.WaitVisible(chromedp.CSS("#details"))); err != nil {
		t.Fatalf("load %s: %v", pageURL, err)
	}
	banner, err := chromedp.Run(bctx, chromedp.Evaluate[string](bannerJS))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(banner, "NO-GO") || !strings.Contains(banner, "cand-1") {
		t.Errorf("verdict banner not visible or wrong: %q", banner)
	}
	byTag, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](byTagJS))
	if err != nil {
		t.Fatal(err)
	}
	if len(byTag) != 2 || byTag[0] != "<b>chat</b>" || byTag[1] != "0" {
		t.Errorf("By tag rows %q, want one row <b>chat</b> shown as text (and 0 <b> elements)", byTag)
	}
	charts, err := chromedp.Run(bctx, chromedp.Evaluate[[]chartBox](chartsJS))
	if err != nil {
		t.Fatal(err)
	}
	if len(charts) != htmlFixtureCharts {
		t.Errorf("%d inline SVG charts, want %d", len(charts), htmlFixtureCharts)
	}
	for _, c := range charts {
		if c.Width < 100 || c.Height < 100 || c.Drawn < 3 {
			t.Errorf("chart %q: %.0f×%.0f px, %d paths of which %d drawn", c.Label, c.Width, c.Height, c.Paths, c.Drawn)
		}
		// The fault span is shaded once per panel of every time chart,
		// and on no other chart.
		if want := htmlTimeCharts[c.Label]; c.Shaded != want {
			t.Errorf("chart %q: %d span bands on screen, want %d", c.Label, c.Shaded, want)
		}
	}
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "report.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (page %s)", shot, path)

	// The interrupted run has an amber banner that says so.
	if err := chromedp.Do(bctx, chromedp.Navigate(partialURL), chromedp.WaitVisible(chromedp.CSS("#details"))); err != nil {
		t.Fatalf("load %s: %v", partialURL, err)
	}
	got, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](partialBannerJS))
	if err != nil {
		t.Fatal(err)
	}
	if amber := "rgb(154, 103, 0)"; len(got) != 2 || got[0] != amber || !strings.Contains(got[1], "partial: interrupted at +37.2s") {
		t.Errorf("partial run's banner: %q, want background %s and the partial line visible", got, amber)
	}
	for _, p := range problems.all() {
		t.Error(p)
	}
}
