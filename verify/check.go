package verify

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hagen-ha/hagen/contract"
)

// CheckOptions configure Check.
type CheckOptions struct {
	// Image is the node image the consumers run in. Empty means the
	// image of the current build inputs (image.Tag()), built when missing.
	Image string
	// Progress receives one line per step (image, container); nil
	// discards them. Verbose adds a line per file.
	Progress io.Writer
	Verbose  bool
	// DisplayDir is the directory messages name instead of the checked
	// one: hagen render --check-with-tools checks a temporary copy of what
	// it is about to write to DisplayDir. Empty means dir.
	DisplayDir string
	// RunID is the value of the LabelCheck label on the check container;
	// empty means a random one.
	RunID string
}

// CheckResult is the verdict of one consumer on one rendered file.
type CheckResult struct {
	// File is the file's slash-separated path inside the checked tree.
	File string `json:"file"`
	// Checker names the consumer that read the file, as run
	// ("keepalived --config-test", "haproxy -c", ...).
	Checker string `json:"checker"`
	// OK is true when the consumer accepted the file. A skipped file is
	// OK and says why in Message.
	OK      bool `json:"ok"`
	Skipped bool `json:"skipped,omitempty"`
	// Message is the consumer's own output: on failure its error messages,
	// with file and line where it gives them; on success any warnings.
	// Paths inside the check container are rewritten to the checked tree.
	Message string `json:"message,omitempty"`
}

// LabelCheck labels the container of a check run; its value is the run id.
// The container is removed by this label when Check returns.
const LabelCheck = "dev.hagen.check"

// Kinds of rendered files, by the program that reads them in production.
// Each is the Checker string of its results.
const (
	checkerCompose    = "compose-go load"
	checkerEnvFile    = "compose-go dotenv"
	checkerJSON       = "json"
	checkerInventory  = "hagen inventory"
	checkerAgent      = "hagen agent config"
	checkerClient     = "hagen client settings"
	checkerHosts      = "hosts"
	checkerKeepalived = "keepalived --config-test"
	checkerHAProxy    = "haproxy -c"
	checkerPGConf     = "postgres pg_file_settings"
	checkerPGHBA      = "postgres pg_hba_file_rules"
	checkerPGIdent    = "postgres pg_ident reload"
	checkerZone       = "named-checkzone"
	checkerNamedConf  = "named-checkconf"
	checkerSystemd    = "systemd-analyze verify"
	checkerShell      = "bash -n, shellcheck"
	checkerBucardo    = "apply.sh --dry-run"
	checkerNone       = "none"
	checkerSecret     = "secret"
)

// checkFile is one file of the tree under check.
type checkFile struct {
	rel  string // slash-separated path in the tree
	disp string // the path as messages show it: the checked dir joined with rel
	site string // first path element when the file is below a directory
	sub  string // path below the site directory
	data []byte
	mode fs.FileMode
	kind string // one of the checker constants
}

// dir is the file's directory in the tree ("" at the top).
func (f *checkFile) dir() string {
	if d := path.Dir(f.rel); d != "." {
		return d
	}
	return ""
}

// checkTree is a rendered tree read from disk.
type checkTree struct {
	dir     string // as given by the caller, for messages
	abs     string
	files   []*checkFile // sorted by path
	byPath  map[string]*checkFile
	sites   []string // top-level directories, sorted
	name    string   // deployment name from inventory.json, if any
	domain  string   // client domain from inventory.json, if any
	vipIfce string   // VIP interface from inventory.json, if any
}

// prefix is what messages put before a path in the tree.
func (t *checkTree) prefix() string {
	if t.dir == "." {
		return ""
	}
	return t.dir + "/"
}

// Check runs every file of the rendered tree in dir through the program
// that reads it in production and returns one result per file, sorted by
// path. Structured files are read in-process (compose-go, JSON); every
// other consumer runs inside one container of the node image, which holds
// a copy of the tree and is removed before Check returns (also on error
// and cancellation). A consumer rejecting a file is a failed result, not
// an error; err means the check itself could not run.
func Check(ctx context.Context, dir string, opts CheckOptions) ([]CheckResult, error) {
	t, err := readCheckTree(dir, opts.DisplayDir)
	if err != nil {
		return nil, err
	}
	results := map[string]CheckResult{}
	var inContainer []*checkFile
	for _, f := range t.files {
		switch f.kind {
		case checkerCompose:
			results[f.rel] = checkCompose(t, f)
		case checkerEnvFile:
			results[f.rel] = checkEnvFile(f)
		case checkerJSON:
			results[f.rel] = checkJSON(f)
		case checkerInventory, checkerAgent, checkerClient:
			results[f.rel] = checkContract(f, f.kind, contractParsers[f.kind])
		case checkerHosts:
			results[f.rel] = checkHosts(f)
		case checkerNone, checkerSecret:
			results[f.rel] = skipResult(f)
		default:
			inContainer = append(inContainer, f)
		}
	}
	if len(inContainer) > 0 {
		box, err := startCheckBox(ctx, t, opts)
		if box != nil {
			defer box.close()
		}
		if err != nil {
			return nil, err
		}
		for _, r := range box.run(ctx, inContainer) {
			results[r.File] = r
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if box.err != nil {
			return nil, box.err
		}
	}
	out := make([]CheckResult, 0, len(results))
	for _, f := range t.files {
		r, ok := results[f.rel]
		if !ok {
			r = CheckResult{File: f.rel, Checker: f.kind, Message: "hagen check: no result (internal error)"}
		}
		// Every failure names its file, also when the consumer's
		// message does not (haproxy's "unable to find required ...").
		if !r.OK && !strings.Contains(r.Message, f.disp) {
			r.Message = f.disp + ": " + r.Message
		}
		out = append(out, r)
	}
	return out, nil
}

// readCheckTree reads every regular file below dir and sorts them by the
// program that reads them. hagen's manifest of rendered files is not a
// rendered file and is left out.
func readCheckTree(dir, display string) (*checkTree, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	info, err := os.Stat(abs)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	if display == "" {
		display = dir
	}
	t := &checkTree{dir: filepath.Clean(display), abs: abs, byPath: map[string]*checkFile{}}
	err = filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(abs, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && !strings.Contains(rel, "/") {
				t.sites = append(t.sites, rel)
			}
			return nil
		}
		if rel == ".hagen-manifest" || !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		var data []byte
		if !isSecretFile(d.Name()) {
			if data, err = os.ReadFile(p); err != nil {
				return err
			}
		}
		f := &checkFile{rel: rel, disp: t.prefix() + rel, data: data, mode: info.Mode().Perm()}
		if site, sub, ok := strings.Cut(rel, "/"); ok {
			f.site, f.sub = site, sub
		}
		t.files = append(t.files, f)
		t.byPath[rel] = f
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(t.files) == 0 {
		return nil, fmt.Errorf("%s holds no files: nothing to check", dir)
	}
	sort.Slice(t.files, func(i, j int) bool { return t.files[i].rel < t.files[j].rel })
	sort.Strings(t.sites)
	if f := t.byPath["inventory.json"]; f != nil {
		if inv, err := contract.ParseInventory(f.rel, f.data); err == nil {
			t.name, t.domain = inv.Name, inv.Domain
			if inv.VIP != nil {
				t.vipIfce = inv.VIP.Interface
			}
		}
	}
	for _, f := range t.files {
		f.kind = classify(t, f)
	}
	return t, nil
}

// classify names the program that reads a file in production, by the
// conventions of the rendered tree: the file's name, its directory and,
// for scripts without an extension, its #! line.
func classify(t *checkTree, f *checkFile) string {
	base := path.Base(f.rel)
	dir := path.Base(f.dir())
	switch {
	case base == "docker-compose.yaml" || base == "compose.yaml":
		return checkerCompose
	case isSecretFile(base):
		return checkerSecret
	case base == "hagen.env.template":
		return checkerEnvFile
	case f.rel == contract.InventoryFile:
		return checkerInventory
	case f.rel == contract.ClientSettingsFile:
		return checkerClient
	case path.Join(dir, base) == contract.AgentConfigFile:
		return checkerAgent
	case dir == "bucardo" && strings.HasSuffix(base, ".json") && t.byPath[path.Join(f.dir(), "apply.sh")] != nil:
		return checkerBucardo
	case strings.HasSuffix(base, ".json"):
		return checkerJSON
	case base == "keepalived.conf":
		return checkerKeepalived
	case base == "haproxy.cfg":
		return checkerHAProxy
	case base == "postgresql.conf":
		return checkerPGConf
	case base == "pg_hba.conf":
		return checkerPGHBA
	case base == "pg_ident.conf":
		return checkerPGIdent
	case strings.HasSuffix(base, ".zone"):
		return checkerZone
	case base == "named.conf":
		return checkerNamedConf
	case isUnitFile(base):
		return checkerSystemd
	case strings.HasSuffix(base, ".sh") || shellInterpreter(f.data) != "":
		return checkerShell
	case base == "hosts":
		return checkerHosts
	}
	return checkerNone
}

// isSecretFile reports whether a file holds secret values: the operator's
// hagen.env next to an installed site's compose file, keys, password
// files. hagen check never reads such a file nor copies it into the check
// container.
func isSecretFile(base string) bool {
	return strings.HasSuffix(base, ".env") || base == ".pgpass" ||
		strings.HasSuffix(base, ".key") || strings.HasSuffix(base, ".pem")
}

func isUnitFile(base string) bool {
	for _, ext := range []string{".service", ".socket", ".timer", ".target", ".path", ".mount"} {
		if strings.HasSuffix(base, ext) {
			return true
		}
	}
	return false
}

// humanOnly are files no program reads: their reader is a person.
var humanOnly = map[string]string{
	".md":  "read by people",
	".txt": "read by people",
}

func skipResult(f *checkFile) CheckResult {
	why := "no checker knows this file: add one in verify/check.go"
	if reason, ok := humanOnly[path.Ext(f.rel)]; ok {
		why = reason
	}
	if f.kind == checkerSecret {
		why = "holds secret values: hagen check neither reads nor copies it"
	}
	return CheckResult{File: f.rel, Checker: checkerNone, OK: true, Skipped: true, Message: why}
}

// WriteCheckResults writes one line per result, "OK  path (checker)",
// "FAIL path (checker): message" or "SKIP path (message)", the lines of a
// multi-line message indented below it, and a final count. Paths are
// dir joined with the result's file. It returns the number of failures.
func WriteCheckResults(w io.Writer, dir string, results []CheckResult) (failed int) {
	checked := 0
	for _, r := range results {
		p := filepath.Join(dir, filepath.FromSlash(r.File))
		msg := strings.TrimSpace(r.Message)
		first, rest, _ := strings.Cut(msg, "\n")
		switch {
		case r.Skipped:
			fmt.Fprintf(w, "SKIP %s (%s)\n", p, first)
			continue
		case r.OK:
			fmt.Fprintf(w, "OK  %s (%s)\n", p, r.Checker)
			rest = msg
		default:
			failed++
			fmt.Fprintf(w, "FAIL %s (%s): %s\n", p, r.Checker, first)
		}
		checked++
		if rest != "" {
			for _, l := range strings.Split(rest, "\n") {
				fmt.Fprintf(w, "     %s\n", l)
			}
		}
	}
	fmt.Fprintf(w, "%d files checked, %d failed\n", checked, failed)
	return failed
}
