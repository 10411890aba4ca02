package verify

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcexec "github.com/testcontainers/testcontainers-go/exec"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/hagen-ha/hagen/verify/image"
)

// Paths inside the check container.
const (
	boxTree = "/check/tree" // the copy of the checked tree
	boxView = "/check/view" // per site: what /etc/hagen shows on that site
	boxEtc  = "/etc/hagen"  // symlink to the view of the site being checked
)

// placeholderSecret is the value every secret has inside the check
// container. No real secret ever enters it.
const placeholderSecret = "hagen-check-placeholder"

// execTimeout bounds one consumer run.
const execTimeout = 3 * time.Minute

// checkBox is the one container in which the consumers run.
type checkBox struct {
	t   *checkTree
	cli *client.Client
	// ctr and id are the check container's; workdir is where commands
	// run: the copy of the tree, once it is there.
	ctr      testcontainers.Container
	id       string
	workdir  string
	runID    string
	progress io.Writer
	verbose  bool
	// site is the site whose files /etc/hagen shows now; "-" for none yet.
	site string
	// env gives every secret the tree's env templates name a placeholder.
	env []string
	// err is the first failure of the container itself (not of a file).
	err error
	pg  *pgState
	// etcd: the tree's etcd members, started by the first etcd or Patroni
	// file checked (check_patroni.go).
	etcd *etcdState
}

// startCheckBox starts the check container from the node image, copies
// the tree into it and lays it out as on a site host. The returned box is
// non-nil whenever something may need removing, also with an error.
func startCheckBox(ctx context.Context, t *checkTree, opts CheckOptions) (*checkBox, error) {
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	cli, err := image.NewClient()
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = image.Ping(pingCtx, cli)
	cancel()
	if err != nil {
		cli.Close()
		return nil, err
	}
	ref := opts.Image
	if ref == "" {
		ref = image.Tag()
	}
	ok, err := image.Exists(ctx, ref)
	switch {
	case err != nil:
		cli.Close()
		return nil, err
	case !ok && opts.Image != "":
		cli.Close()
		return nil, fmt.Errorf("image %s does not exist", ref)
	case !ok:
		fmt.Fprintf(progress, "check: the node image %s is missing: building it (about a minute)\n", ref)
		if _, err := image.Build(ctx, image.Options{Progress: progress, Client: cli}); err != nil {
			cli.Close()
			return nil, fmt.Errorf("node image: %w", err)
		}
	}
	runID := opts.RunID
	if runID == "" {
		b := make([]byte, 6)
		if _, err := rand.Read(b); err != nil {
			cli.Close()
			return nil, err
		}
		runID = hex.EncodeToString(b)
	}
	box := &checkBox{t: t, cli: cli, runID: runID, progress: progress, verbose: opts.Verbose, site: "-", env: placeholderEnv(t)}
	if err := reapStale(ctx, cli, func(format string, args ...any) {
		fmt.Fprintf(progress, "check: "+format+"\n", args...)
	}); err != nil {
		return box, err
	}
	fmt.Fprintf(progress, "check: starting %s (label %s=%s)\n", ref, LabelCheck, runID)
	// The container is removed by its label (close), whatever happens
	// from here on.
	labels := ownerLabels()
	labels[LabelCheck] = runID
	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:  ref,
			Cmd:    []string{"sleep", "infinity"},
			Labels: labels,
			HostConfigModifier: func(hc *container.HostConfig) {
				init := true
				hc.Init = &init // sleep as PID 1 ignores SIGTERM
				// To give the VIP interface a stand-in (check_keepalived.go).
				hc.CapAdd = []string{"NET_ADMIN"}
			},
			WaitingFor: wait.ForExec([]string{"true"}).WithStartupTimeout(time.Minute),
		},
		Started: true,
	})
	if dc, ok := ctr.(*testcontainers.DockerContainer); ok && dc != nil {
		box.ctr, box.id = ctr, dc.GetContainerID()
	}
	if err != nil {
		return box, fmt.Errorf("start the check container: %w", err)
	}
	box.workdir = "/"
	if code, out, err := box.exec(ctx, "", nil, "true"); err != nil || code != 0 {
		return box, fmt.Errorf("the check container does not run commands: exit %d %s %v", code, out, err)
	}
	if err := box.copyTree(ctx); err != nil {
		return box, err
	}
	box.workdir = boxTree
	if err := box.setup(ctx); err != nil {
		return box, err
	}
	return box, nil
}

// close removes the container by its label, with a context of its own:
// the caller's may be the one cancelled by Ctrl-C.
func (b *checkBox) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := removeCheckContainers(ctx, b.cli, b.runID); err != nil {
		fmt.Fprintf(b.progress, "check: removing the check container: %v\n", err)
	}
	b.cli.Close()
}

// removeCheckContainers removes every container labelled with the run id.
func removeCheckContainers(ctx context.Context, cli *client.Client, runID string) error {
	objs, err := listLabelled(ctx, cli, LabelCheck+"="+runID)
	if err != nil {
		return err
	}
	return removeObjects(ctx, cli, objs)
}

// copyTree copies the tree to boxTree as root-owned files with their
// rendered modes (keepalived checks script ownership, systemd the
// executable bit).
func (b *checkBox) copyTree(ctx context.Context) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	var addDir func(d string) error
	addDir = func(d string) error {
		if d == "." || d == "/" || dirs[d] {
			return nil
		}
		if err := addDir(path.Dir(d)); err != nil {
			return err
		}
		dirs[d] = true
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: time.Unix(0, 0)})
	}
	root := strings.TrimPrefix(boxTree, "/")
	if err := addDir(root); err != nil {
		return err
	}
	for _, f := range b.t.files {
		if f.kind == "" || f.missing {
			continue // only the files inventory.json lists
		}
		name := root + "/" + f.rel
		if err := addDir(path.Dir(name)); err != nil {
			return err
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: int64(f.mode), Size: int64(len(f.data)), ModTime: time.Unix(0, 0)}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	_, err := b.cli.CopyToContainer(ctx, b.id, client.CopyToContainerOptions{DestinationPath: "/", Content: &buf})
	if err != nil {
		return fmt.Errorf("copy the tree into the check container: %w", err)
	}
	return nil
}

// setup lays the tree out as on a site host: for each site a view of its
// directories as the services see them under /etc/hagen (and the client
// files under /etc/hagen/clients), the tree at the install directory the
// systemd units name, the rendered hosts file in /etc/hosts, and the
// stand-ins for what exists only at run time.
func (b *checkBox) setup(ctx context.Context) error {
	var sh strings.Builder
	sh.WriteString("set -eu\n")
	top := map[string]bool{}
	for _, s := range b.t.sites {
		top[s] = true
	}
	views := append([]string{"-top"}, b.t.sites...)
	for _, v := range views {
		vdir := boxView + "/" + v
		fmt.Fprintf(&sh, "mkdir -p %s\n", checkQuote(vdir))
		entries := map[string]bool{}
		for _, f := range b.t.files {
			if f.site == v && f.kind != "" && !f.missing {
				e, _, _ := strings.Cut(f.sub, "/")
				entries[e] = true
			}
		}
		if top["clients"] && !entries["clients"] {
			fmt.Fprintf(&sh, "ln -s %s %s\n", checkQuote(boxTree+"/clients"), checkQuote(vdir+"/clients"))
		}
		for _, e := range checkSortedSet(entries) {
			fmt.Fprintf(&sh, "ln -s %s %s\n", checkQuote(boxTree+"/"+v+"/"+e), checkQuote(vdir+"/"+e))
		}
	}
	if f := b.t.byPath["clients/hosts"]; f != nil && f.kind == checkerHosts {
		fmt.Fprintf(&sh, "cat %s >> /etc/hosts\n", checkQuote(boxTree+"/clients/hosts"))
	}
	for _, d := range systemdInstallDirs(b.t) {
		fmt.Fprintf(&sh, "mkdir -p %s && ln -sfn %s %s\n", checkQuote(d), checkQuote(boxTree), checkQuote(d+"/"+b.t.name))
	}
	for _, p := range checkSortedKeys(keepalivedPlaceholders(b.t)) {
		fmt.Fprintf(&sh, "mkdir -p %s && printf '%%s' %s > %s && chmod 600 %s\n",
			checkQuote(path.Dir(p)), checkQuote(keepalivedPlaceholders(b.t)[p]), checkQuote(p), checkQuote(p))
	}
	if ifc := b.t.vipIfce; ifc != "" {
		fmt.Fprintf(&sh, "ip link show %s >/dev/null 2>&1 || ip link add %s type dummy\n", checkQuote(ifc), checkQuote(ifc))
	}
	code, out, err := b.exec(ctx, "", nil, "sh", "-c", sh.String())
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("prepare the check container: exit %d: %s", code, strings.TrimSpace(out))
	}
	return nil
}

// exec runs cmd in the container as user ("" for root) and returns its exit
// code and combined output. An error is a failure to run it at all.
func (b *checkBox) exec(ctx context.Context, user string, env []string, cmd ...string) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, execTimeout)
	defer cancel()
	// stdout and stderr in one buffer, in the order they arrive.
	var out bytes.Buffer
	code, err := execIn(ctx, b.ctr, cmd, &out, &out,
		tcexec.WithUser(user), tcexec.WithEnv(env), tcexec.WithWorkingDir(b.workdir))
	if err != nil {
		return -1, "", fmt.Errorf("run %q in the check container: %w", strings.Join(cmd, " "), err)
	}
	return code, out.String(), nil
}

// enter makes /etc/hagen show the files of site, as its services see them.
func (b *checkBox) enter(ctx context.Context, site string) error {
	if site == "" || site == "clients" {
		site = "-top"
	}
	if b.site == site {
		return nil
	}
	code, out, err := b.exec(ctx, "", nil, "ln", "-sfn", boxView+"/"+site, boxEtc)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("switch %s to site %s: %s", boxEtc, site, strings.TrimSpace(out))
	}
	b.site = site
	return nil
}

// rewrite turns paths inside the container into paths of the checked tree
// in a consumer's message: the copy of the tree, and /etc/hagen as the
// site of f sees it.
func (b *checkBox) rewrite(f *checkFile, msg string) string {
	disp := b.t.prefix()
	pairs := []string{boxTree + "/", disp}
	if f.site != "" {
		pairs = append(pairs, boxView+"/"+f.site+"/", disp+f.site+"/")
	}
	if f.site != "" && f.site != "clients" {
		pairs = append(pairs, boxEtc+"/clients/", disp+"clients/", boxEtc+"/", disp+f.site+"/")
	} else {
		pairs = append(pairs, boxEtc+"/", disp)
	}
	return strings.TrimSpace(strings.NewReplacer(pairs...).Replace(msg))
}

// run checks every file in the container, site by site, with the check
// the table gives for its reader, and returns their results. It stops at
// the first failure of the container itself (b.err) or when ctx ends.
func (b *checkBox) run(ctx context.Context, files []*checkFile) []CheckResult {
	var results []CheckResult
	for _, f := range files {
		if ctx.Err() != nil || b.err != nil {
			break
		}
		if err := b.enter(ctx, f.site); err != nil {
			b.err = err
			break
		}
		if b.verbose {
			fmt.Fprintf(b.progress, "check: %s (%s)\n", f.rel, f.kind)
		}
		r, err := checkers[f.kind].box(b, ctx, f)
		if err != nil {
			b.err = err
			break
		}
		r.Message = b.rewrite(f, r.Message)
		results = append(results, r)
	}
	return results
}

// inBox is the path of a tree file inside the container.
func inBox(f *checkFile) string { return boxTree + "/" + f.rel }

// placeholderEnv names every secret of every env template in the tree
// with the placeholder value, as the operator's hagen.env would.
func placeholderEnv(t *checkTree) []string {
	names := map[string]bool{}
	for _, f := range t.files {
		if f.kind == checkerEnvFile {
			for _, n := range envTemplateNames(f.data) {
				names[n] = true
			}
		}
	}
	var env []string
	for _, n := range checkSortedSet(names) {
		env = append(env, n+"="+placeholderSecret)
	}
	return env
}

// checkQuote quotes s for a POSIX shell.
func checkQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func checkSortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func checkSortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkCleanLines drops empty lines and repeated lines (keepalived's processes
// each print the same parse errors), keeping the first occurrence's order.
func checkCleanLines(s string) string {
	seen := map[string]bool{}
	var out []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimRight(l, " \t\r")
		if strings.TrimSpace(l) == "" || seen[l] {
			continue
		}
		seen[l] = true
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}
