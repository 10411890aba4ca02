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

// The readers of rendered files, as inventory.json names them
// (contract.Reader); each is the Checker string of its results.
const (
	checkerCompose    = string(contract.ReaderCompose)
	checkerEnvFile    = string(contract.ReaderEnvFile)
	checkerInventory  = string(contract.ReaderInventory)
	checkerAgent      = string(contract.ReaderAgent)
	checkerClient     = string(contract.ReaderClient)
	checkerHosts      = string(contract.ReaderHosts)
	checkerKeepalived = string(contract.ReaderKeepalived)
	checkerHAProxy    = string(contract.ReaderHAProxy)
	checkerPGConf     = string(contract.ReaderPGConf)
	checkerPGHBA      = string(contract.ReaderPGHBA)
	checkerPGIdent    = string(contract.ReaderPGIdent)
	checkerZone       = string(contract.ReaderZone)
	checkerNamedConf  = string(contract.ReaderNamedConf)
	checkerSystemd    = string(contract.ReaderSystemd)
	checkerShell      = string(contract.ReaderShell)
	checkerBucardo    = string(contract.ReaderBucardo)
	checkerPatroni    = string(contract.ReaderPatroni)
	checkerEtcd       = string(contract.ReaderEtcd)
	checkerPeople     = string(contract.ReaderPeople)
	// checkerNone is the Checker of a file no reader is run on.
	checkerNone = "none"
)

// checker runs a file's reader: in-process (local), or in the check
// container (box).
type checker struct {
	local func(t *checkTree, f *checkFile) CheckResult
	box   func(b *checkBox, ctx context.Context, f *checkFile) (CheckResult, error)
}

// checkers is the one table from a reader, as inventory.json names it, to
// the check that runs it. TestCheckersCoverEveryReader keeps it complete.
var checkers = map[string]checker{
	checkerCompose:    {local: checkCompose},
	checkerEnvFile:    {local: func(_ *checkTree, f *checkFile) CheckResult { return checkEnvFile(f) }},
	checkerInventory:  {local: contractChecker(checkerInventory, func(n string, d []byte) error { _, err := contract.ParseInventory(n, d); return err })},
	checkerAgent:      {local: contractChecker(checkerAgent, func(n string, d []byte) error { _, err := contract.ParseAgentConfig(n, d); return err })},
	checkerClient:     {local: contractChecker(checkerClient, func(n string, d []byte) error { _, err := contract.ParseClientSettings(n, d); return err })},
	checkerHosts:      {local: func(_ *checkTree, f *checkFile) CheckResult { return checkHosts(f) }},
	checkerPeople:     {local: func(_ *checkTree, f *checkFile) CheckResult { return skipResult(f, "read by people") }},
	checkerKeepalived: {box: (*checkBox).checkKeepalived},
	checkerHAProxy:    {box: (*checkBox).checkHAProxy},
	checkerPGConf:     {box: (*checkBox).checkPostgresFile},
	checkerPGHBA:      {box: (*checkBox).checkPostgresFile},
	checkerPGIdent:    {box: (*checkBox).checkPostgresFile},
	checkerZone:       {box: (*checkBox).checkZone},
	checkerNamedConf:  {box: (*checkBox).checkNamedConf},
	checkerSystemd:    {box: (*checkBox).checkSystemd},
	checkerShell:      {box: (*checkBox).checkShell},
	checkerBucardo:    {box: (*checkBox).checkBucardo},
	checkerPatroni:    {box: (*checkBox).checkPatroni},
	checkerEtcd:       {box: (*checkBox).checkEtcd},
}

// checkFile is one file of the tree under check.
type checkFile struct {
	rel  string // slash-separated path in the tree
	disp string // the path as messages show it: the checked dir joined with rel
	site string // first path element when the file is below a directory
	sub  string // path below the site directory
	data []byte
	mode fs.FileMode
	// missing: inventory.json lists the file but the tree does not hold it.
	missing bool
	// kind is the file's reader as inventory.json lists it; "" for a file
	// it does not list, which is neither read nor copied.
	kind string
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
	dir    string // as given by the caller, for messages
	abs    string
	files  []*checkFile // sorted by path
	byPath map[string]*checkFile
	sites  []string // top-level directories, sorted
	// invErr is why inventory.json could not be read; nothing else is
	// checked then.
	invErr  error
	name    string // deployment name from inventory.json, if any
	domain  string // client domain from inventory.json, if any
	vipIfce string // VIP interface from inventory.json, if any
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
// path. inventory.json names each file's reader; a file it does not list
// is reported and neither read nor checked (the operator's hagen.env, for
// one), a file it lists that is missing fails. Structured files are read
// in-process (compose-go, the contract decoders); every other reader runs
// inside one container of the node image, which holds a copy of the
// listed files and is removed before Check returns (also on error and
// cancellation). A reader rejecting a file is a failed result, not an
// error; err means the check itself could not run.
func Check(ctx context.Context, dir string, opts CheckOptions) ([]CheckResult, error) {
	t, err := readCheckTree(dir, opts.DisplayDir)
	if err != nil {
		return nil, err
	}
	results := map[string]CheckResult{}
	var inContainer []*checkFile
	for _, f := range t.files {
		c, ok := checkers[f.kind]
		switch {
		case t.invErr != nil && f.rel == contract.InventoryFile:
			results[f.rel] = CheckResult{File: f.rel, Checker: checkerInventory, Message: t.invErr.Error()}
		case t.invErr != nil:
			results[f.rel] = skipResult(f, "not checked: the readers of the files are listed in "+contract.InventoryFile+", which cannot be read")
		case f.missing:
			results[f.rel] = CheckResult{File: f.rel, Checker: f.kind, Message: f.disp + ": listed in " + contract.InventoryFile + " but not in the tree"}
		case f.kind == "":
			results[f.rel] = skipResult(f, "not rendered by hagen ("+contract.InventoryFile+" does not list it): neither read nor checked")
		case !ok:
			results[f.rel] = CheckResult{File: f.rel, Checker: f.kind, Message: fmt.Sprintf("hagen check has no checker for the reader %q", f.kind)}
		case c.local != nil:
			results[f.rel] = c.local(t, f)
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

// readCheckTree reads inventory.json of dir and every file it lists, and
// notes the regular files it does not list without reading them. hagen's
// manifest of rendered files is not a rendered file and is left out.
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
	invPath := filepath.Join(abs, filepath.FromSlash(contract.InventoryFile))
	invData, err := readRegular(invPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (hagen check reads the rendered files and their readers from it)", t.prefix()+contract.InventoryFile, err)
	}
	readers := map[string]string{}
	inv, err := contract.ParseInventory(t.prefix()+contract.InventoryFile, invData)
	switch {
	case err != nil:
		t.invErr = err
	case len(inv.Files) == 0:
		t.invErr = fmt.Errorf("%s lists no files, so no reader is known (rendered by an older hagen?): render the tree again", t.prefix()+contract.InventoryFile)
	default:
		t.name, t.domain = inv.Name, inv.Domain
		if inv.VIP != nil {
			t.vipIfce = inv.VIP.Interface
		}
		for _, f := range inv.Files {
			readers[f.Path] = string(f.Reader)
		}
	}
	readers[contract.InventoryFile] = checkerInventory
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
		kind, listed := readers[rel]
		var data []byte
		if listed && t.invErr == nil || rel == contract.InventoryFile {
			if data, err = os.ReadFile(p); err != nil {
				return err
			}
		}
		t.add(&checkFile{rel: rel, disp: t.prefix() + rel, data: data, mode: info.Mode().Perm(), kind: kind})
		return nil
	})
	if err != nil {
		return nil, err
	}
	for p, kind := range readers {
		if t.byPath[p] == nil && t.invErr == nil {
			t.add(&checkFile{rel: p, disp: t.prefix() + p, kind: kind, missing: true})
		}
	}
	sort.Slice(t.files, func(i, j int) bool { return t.files[i].rel < t.files[j].rel })
	sort.Strings(t.sites)
	return t, nil
}

func (t *checkTree) add(f *checkFile) {
	if site, sub, ok := strings.Cut(f.rel, "/"); ok {
		f.site, f.sub = site, sub
	}
	t.files = append(t.files, f)
	t.byPath[f.rel] = f
}

// readRegular reads a file that must be a regular file.
func readRegular(p string) ([]byte, error) {
	info, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file")
	}
	return os.ReadFile(p)
}

func skipResult(f *checkFile, why string) CheckResult {
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
