// Command speed measures hagen's speed side by side in one run and prints
// a table (the source of the README's Speed section):
//
//   - whole process, interleaved runs: `hagen validate` of an example
//     against `cue vet` of the same spec with the same schema (the cue CLI
//     is installed with go install, pinned), `hagen render` of the
//     example, `hagen version` (start-up alone), and what package init
//     costs (GODEBUG=inittrace=1), split into hagen's own packages, the
//     packages validate and render call into, and those linked only for
//     the other commands (verify, check, images, agent, probe);
//   - in-process: the durable write of the example's tree (what render
//     adds to validate besides Render itself);
//   - in-process: Render's time and output bytes for generated specs of
//     2…255 sites (multi-master, one LAN per site; primary-standby on one
//     LAN), with a linear fit (slope, intercept, R²), the growth exponent
//     (log-log slope) and, where a quadratic term remains, its share.
//
// Run it from the repository root: go run ./scripts/speed (or
// scripts/speed.sh). It prints figures; it asserts nothing.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hagen-ha/hagen/internal/specgen"
	"github.com/hagen-ha/hagen/internal/treefile"
	"github.com/hagen-ha/hagen/render"
	"github.com/hagen-ha/hagen/schema"
)

// cueVersion is the cue CLI compared with: the version of cuelang.org/go
// hagen is built with.
const cueVersion = "v0.17.1"

func main() {
	runs := flag.Int("runs", 21, "whole-process runs of each command (interleaved)")
	example := flag.String("example", "examples/dual-site.cue", "the spec of the whole-process runs")
	sizes := flag.String("sites", "2,4,8,16,32,64,128,192,255", "site counts of the in-process runs")
	flag.Parse()
	if err := run(*runs, *example, *sizes); err != nil {
		fmt.Fprintln(os.Stderr, "speed:", err)
		os.Exit(1)
	}
}

func run(runs int, example, sizes string) error {
	tmp, err := os.MkdirTemp("", "hagen-speed-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	fmt.Printf("hagen speed, %s, %s/%s, %d CPUs, %s, load average %s\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), loadAverage())

	hagen := filepath.Join(tmp, "hagen")
	if out, err := exec.Command("go", "build", "-o", hagen, "./cmd/hagen").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	install := exec.Command("go", "install", "cuelang.org/go/cmd/cue@"+cueVersion)
	install.Env = append(os.Environ(), "GOBIN="+tmp)
	if out, err := install.CombinedOutput(); err != nil {
		return fmt.Errorf("go install cue: %v\n%s", err, out)
	}
	vetDir, err := cueVetDir(tmp, example)
	if err != nil {
		return err
	}
	wp, err := wholeProcess(runs, hagen, filepath.Join(tmp, "cue"), vetDir, example, tmp)
	if err != nil {
		return err
	}
	if err := initCost(hagen, wp); err != nil {
		return err
	}
	if err := durableWrite(example, tmp); err != nil {
		return err
	}
	var ns []int
	for _, f := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 2 || n > specgen.MaxSites {
			return fmt.Errorf("-sites: %q is not a site count of 2…%d", f, specgen.MaxSites)
		}
		ns = append(ns, n)
	}
	return inProcess(ns)
}

// cueVetDir lays out the schema and the spec as one CUE package whose
// value is #Topology: what hagen validates, for cue vet -c.
func cueVetDir(tmp, example string) (string, error) {
	dir := filepath.Join(tmp, "vet")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	schemaSrc, err := os.ReadFile("schema/topology.cue")
	if err != nil {
		return "", fmt.Errorf("run from the repository root: %w", err)
	}
	spec, err := os.ReadFile(example)
	if err != nil {
		return "", err
	}
	files := map[string][]byte{
		"schema.cue": schemaSrc,
		"spec.cue":   append([]byte("package schema\n\n"), spec...),
		"vet.cue":    []byte("package schema\n\n#Topology\n"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// medians are the whole-process CPU medians initCost relates its figures
// to.
type medians struct{ validateCPU, cueCPU float64 }

func wholeProcess(runs int, hagen, cue, vetDir, example, tmp string) (medians, error) {
	out := filepath.Join(tmp, "out")
	cmds := []struct {
		name string
		argv []string
		dir  string
	}{
		{"hagen version", []string{hagen, "version"}, ""},
		{"hagen validate", []string{hagen, "validate", example}, ""},
		{"cue vet -c (same spec, same schema)", []string{cue, "vet", "-c", "."}, vetDir},
		{"hagen render -o DIR", []string{hagen, "render", example, "-o", out}, ""},
	}
	times := make([][]float64, len(cmds))
	cpu := make([][]float64, len(cmds))
	for i := 0; i < runs+1; i++ {
		for j, c := range cmds {
			cmd := exec.Command(c.argv[0], c.argv[1:]...)
			cmd.Dir = c.dir
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			start := time.Now()
			err := cmd.Run()
			d := time.Since(start)
			if err != nil {
				return medians{}, fmt.Errorf("%s: %v\n%s", strings.Join(c.argv, " "), err, stderr.String())
			}
			if i > 0 { // the first round warms the file cache
				times[j] = append(times[j], ms(d))
				cpu[j] = append(cpu[j], ms(cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime()))
			}
		}
	}
	fmt.Printf("Whole process, %s, %d interleaved runs: wall-clock median (min–max) and CPU time (user + system) median:\n\n", example, runs)
	fmt.Println("| command | wall median | wall range | CPU median |")
	fmt.Println("| --- | --- | --- | --- |")
	med := make([]float64, len(cmds))
	cpuMed := make([]float64, len(cmds))
	for j, c := range cmds {
		med[j], cpuMed[j] = median(times[j]), median(cpu[j])
		fmt.Printf("| `%s` | %.1f ms | %.1f–%.1f ms | %.1f ms |\n", c.name, med[j], minOf(times[j]), maxOf(times[j]), cpuMed[j])
	}
	fmt.Printf("\n`hagen validate` / `cue vet`: %.2f× wall, %.2f× CPU (target ≤ 2×); `hagen render`: %.1f ms wall median (target ≤ 30 ms)\n\n",
		med[1]/med[2], cpuMed[1]/cpuMed[2], med[3])
	// What a command adds to `hagen version` is its own work; the rest is
	// start-up, the same for every command.
	fmt.Printf("Beyond start-up (`hagen version`), CPU medians: `hagen validate` adds %.1f ms (%.2f× `cue vet`'s whole run), `hagen render` %.1f ms.\n\n",
		cpuMed[1]-cpuMed[0], (cpuMed[1]-cpuMed[0])/cpuMed[2], cpuMed[3]-cpuMed[0])
	return medians{validateCPU: cpuMed[1], cueCPU: cpuMed[2]}, nil
}

// initCost runs `hagen version` with GODEBUG=inittrace=1 a few times and
// prints the run with the least init time: the total, hagen's own
// packages, and the packages that validate and render never call into
// (linked for the other commands), with what validate's CPU time would be
// without the latter.
func initCost(hagen string, wp medians) error {
	type pkg struct {
		name string
		ms   float64
	}
	used, err := validatePath()
	if err != nil {
		return err
	}
	var best []pkg
	bestTotal := math.Inf(1)
	for i := 0; i < 7; i++ {
		cmd := exec.Command(hagen, "version")
		cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return err
		}
		var pkgs []pkg
		total := 0.0
		for _, l := range strings.Split(stderr.String(), "\n") {
			f := strings.Fields(l)
			if len(f) < 7 || f[0] != "init" || f[6] != "clock," {
				continue
			}
			v, err := strconv.ParseFloat(f[4], 64)
			if err != nil {
				continue
			}
			pkgs = append(pkgs, pkg{f[1], v})
			total += v
		}
		if total < bestTotal {
			best, bestTotal = pkgs, total
		}
	}
	sort.Slice(best, func(i, j int) bool { return best[i].ms > best[j].ms })
	var own, unused float64
	var unusedPkgs []pkg
	for _, p := range best {
		switch {
		case strings.HasPrefix(p.name, module+"/"):
			own += p.ms
		case !used[p.name]:
			unused += p.ms
			unusedPkgs = append(unusedPkgs, p)
		}
	}
	fmt.Printf("Package init of every hagen command (GODEBUG=inittrace=1, `hagen version`, least of 7 runs): %.1f ms; largest:\n\n", bestTotal)
	for _, p := range best[:min(6, len(best))] {
		fmt.Printf("- %s: %.2f ms\n", p.name, p.ms)
	}
	fmt.Printf("\nOf it, hagen's own packages: %.2f ms; packages that validate and render never call into (linked for verify, check, images, agent, probe): %.1f ms, the largest ", own, unused)
	for i, p := range unusedPkgs[:min(3, len(unusedPkgs))] {
		if i > 0 {
			fmt.Print(", ")
		}
		fmt.Printf("%s %.1f ms", p.name, p.ms)
	}
	// inittrace gives wall-clock times: on a busy machine they include
	// waits for a core, so what is left of validate's CPU is an estimate.
	if rest := wp.validateCPU - unused; rest > 0 {
		fmt.Printf(". Without the latter, `hagen validate` would take about %.1f ms of CPU, %.2f× `cue vet` (an estimate: init times are wall-clock).\n\n", rest, rest/wp.cueCPU)
		return nil
	}
	// Waits for a core counted in the init times can exceed the whole
	// process's CPU time: then no estimate is left.
	fmt.Print(". No estimate of `hagen validate` without the latter: under this load their wall-clock init times exceed its CPU time.\n\n")
	return nil
}

// module is hagen's module path.
const module = "github.com/hagen-ha/hagen"

// validatePath is the set of packages that validate and render call into:
// the dependencies of the packages their code uses, and the standard
// library.
func validatePath() (map[string]bool, error) {
	args := []string{"list", "-deps", "-f", "{{.ImportPath}}",
		module + "/schema", module + "/render", module + "/contract", module + "/internal/budget", module + "/internal/treefile",
		"github.com/pmezard/go-difflib/difflib", "std"}
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %v", err)
	}
	used := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		used[p] = true
	}
	return used, nil
}

// durableWrite times the durable write of the example's tree into fresh
// directories next to the whole-process renders' output: what render
// adds to validate besides Render.
func durableWrite(example, tmp string) error {
	top, _, err := schema.Load(example)
	if err != nil {
		return err
	}
	tree, err := render.Render(top)
	if err != nil {
		return err
	}
	var times, cpus []float64
	for i := 0; i < 21; i++ {
		dir := filepath.Join(tmp, fmt.Sprintf("durable-%d", i))
		t0, c0 := time.Now(), cpuTime()
		if err := treefile.WriteDurable(dir, tree); err != nil {
			return err
		}
		times = append(times, ms(time.Since(t0)))
		cpus = append(cpus, ms(cpuTime()-c0))
	}
	fmt.Printf("Durable write of the example's tree (%d files, every file and directory fsynced; in-process, 21 fresh directories): %.1f ms wall median (%.1f–%.1f ms), %.1f ms CPU median\n\n",
		len(tree), median(times), minOf(times), maxOf(times), median(cpus))
	return nil
}

type point struct {
	n     int
	ms    float64 // wall-clock
	cpu   float64 // process CPU time (user + system), every thread
	bytes int
	files int
}

// cpuTime is the process's CPU time so far: on a machine shared with other
// work, what one render costs, whatever waits it had for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func inProcess(ns []int) error {
	gens := []struct {
		name string
		gen  func(int) []byte
	}{{"multi-master", specgen.MultiMaster}, {"primary-standby (one LAN)", specgen.PrimaryStandby}}
	results := make([][]point, len(gens))
	for g, gen := range gens {
		for _, n := range ns {
			top, _, err := schema.Parse(fmt.Sprintf("gen-%d.cue", n), gen.gen(n))
			if err != nil {
				return fmt.Errorf("%s, %d sites: %v", gen.name, n, err)
			}
			var times, cpus []float64
			var tree render.Tree
			runtime.GC()
			for start := time.Now(); len(times) < 5 || time.Since(start) < 500*time.Millisecond && len(times) < 50; {
				t0, c0 := time.Now(), cpuTime()
				tree, err = render.Render(top)
				times = append(times, ms(time.Since(t0)))
				cpus = append(cpus, ms(cpuTime()-c0))
				if err != nil {
					return fmt.Errorf("%s, %d sites: %v", gen.name, n, err)
				}
			}
			size := 0
			for _, f := range tree {
				size += len(f.Data)
			}
			results[g] = append(results[g], point{n, median(times), median(cpus), size, len(tree)})
		}
	}
	fmt.Println("Render in-process, generated specs (median per size of the wall-clock time and of the process CPU time):")
	fmt.Println()
	fmt.Print("| sites |")
	for _, g := range gens {
		fmt.Printf(" %s: wall | CPU | bytes | files |", g.name)
	}
	fmt.Println()
	fmt.Print("| ---: |")
	for range gens {
		fmt.Print(" ---: | ---: | ---: | ---: |")
	}
	fmt.Println()
	for i, n := range ns {
		fmt.Printf("| %d |", n)
		for g := range gens {
			p := results[g][i]
			fmt.Printf(" %.1f ms | %.1f ms | %s | %d |", p.ms, p.cpu, thousands(p.bytes), p.files)
		}
		fmt.Println()
	}
	fmt.Println()
	for g, gen := range gens {
		var x, tms, cpu, by []float64
		for _, p := range results[g] {
			x = append(x, float64(p.n))
			tms = append(tms, p.ms)
			cpu = append(cpu, p.cpu)
			by = append(by, float64(p.bytes))
		}
		for _, m := range []struct {
			what, unit string
			y          []float64
		}{{"Render CPU time", "ms", cpu}, {"Render wall-clock time", "ms", tms}, {"output", "bytes", by}} {
			a, b, r2 := linearFit(x, m.y)
			e := exponent(x, m.y)
			_, _, q2 := quadraticFit(x, m.y)
			last, lastY := x[len(x)-1], m.y[len(m.y)-1]
			quad := "no quadratic term (its fitted coefficient is not positive)"
			if q2 > 0 {
				quad = fmt.Sprintf("quadratic fit's n² term %.3g·n² = %.4g %s at n = %.0f, %.0f %% of the measured %.4g", q2, q2*last*last, m.unit, last, 100*q2*last*last/lastY, lastY)
			}
			fmt.Printf("- %s, %s: linear fit %s = %.4g + %.4g·n (R² = %.4f); growth exponent %.2f (log-log, n ≥ 16); %s\n",
				gen.name, m.what, m.unit, a, b, r2, e, quad)
		}
		last := results[g][len(results[g])-1]
		fmt.Printf("- %s, %d sites: %.0f ms wall, %.0f ms CPU, %s bytes in %d files\n", gen.name, last.n, last.ms, last.cpu, thousands(last.bytes), last.files)
	}
	return nil
}

// linearFit is least squares y = a + b·x and its R².
func linearFit(x, y []float64) (a, b, r2 float64) {
	n := float64(len(x))
	var sx, sy, sxx, sxy float64
	for i := range x {
		sx += x[i]
		sy += y[i]
		sxx += x[i] * x[i]
		sxy += x[i] * y[i]
	}
	b = (n*sxy - sx*sy) / (n*sxx - sx*sx)
	a = (sy - b*sx) / n
	mean := sy / n
	var ssRes, ssTot float64
	for i := range x {
		f := a + b*x[i]
		ssRes += (y[i] - f) * (y[i] - f)
		ssTot += (y[i] - mean) * (y[i] - mean)
	}
	return a, b, 1 - ssRes/ssTot
}

// exponent is the slope of log y over log x for x ≥ 16, where the fixed
// cost of a render no longer dominates.
func exponent(x, y []float64) float64 {
	var lx, ly []float64
	for i := range x {
		if x[i] >= 16 {
			lx = append(lx, math.Log(x[i]))
			ly = append(ly, math.Log(y[i]))
		}
	}
	if len(lx) < 2 {
		return math.NaN()
	}
	_, b, _ := linearFit(lx, ly)
	return b
}

// quadraticFit is least squares y = c0 + c1·x + c2·x², by the normal
// equations.
func quadraticFit(x, y []float64) (c0, c1, c2 float64) {
	var s [5]float64
	var t [3]float64
	for i := range x {
		p := 1.0
		for k := 0; k < 5; k++ {
			s[k] += p
			if k < 3 {
				t[k] += p * y[i]
			}
			p *= x[i]
		}
	}
	m := [3][4]float64{{s[0], s[1], s[2], t[0]}, {s[1], s[2], s[3], t[1]}, {s[2], s[3], s[4], t[2]}}
	for c := 0; c < 3; c++ {
		for r := c + 1; r < 3; r++ {
			f := m[r][c] / m[c][c]
			for k := c; k < 4; k++ {
				m[r][k] -= f * m[c][k]
			}
		}
	}
	var sol [3]float64
	for r := 2; r >= 0; r-- {
		v := m[r][3]
		for k := r + 1; k < 3; k++ {
			v -= m[r][k] * sol[k]
		}
		sol[r] = v / m[r][r]
	}
	return sol[0], sol[1], sol[2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func minOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = math.Min(m, x)
	}
	return m
}

func maxOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(data))[:3], " ")
}
