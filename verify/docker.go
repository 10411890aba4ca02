package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcexec "github.com/testcontainers/testcontainers-go/exec"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/wait"
)

// Verify and check drive Docker through testcontainers-go: containers are
// created, started, exec'd into, read and awaited through it. The engine
// calls it has no method for (kill, pause, stop, restart, network connect,
// volumes, listing by label) go through its Docker client
// (image.NewClient). Its reaper (Ryuk) is disabled, since its image cannot
// be pulled: every object carries hagen's labels instead, a run removes
// its own at the end (Cleanup) and what a killed run left at the start
// (reapStale).

// LabelRun is the label every container, network and volume of a verify
// run carries; its value is the run id. Cleanup removes by this label.
const LabelRun = "dev.hagen.run"

func init() {
	// testcontainers logs every container it creates and starts; verify's
	// progress output says what matters.
	tclog.SetDefault(tclog.NewNoopLogger())
}

// engine creates the run's containers through testcontainers and labels
// everything with the run's labels.
type engine struct {
	// cli is testcontainers' Docker client.
	cli   *client.Client
	runID string
	// keep marks the run's objects as kept on purpose (--keep): a later
	// run does not reap them.
	keep bool

	mu   sync.Mutex
	ctrs map[string]testcontainers.Container
}

func (e *engine) labels(extra map[string]string) map[string]string {
	l := ownerLabels()
	l[LabelRun] = e.runID
	if e.keep {
		l[labelKeep] = "true"
	}
	maps.Copy(l, extra)
	return l
}

// createContainer creates (does not start) a container through
// testcontainers. The request's labels get the run's.
func (e *engine) createContainer(ctx context.Context, req testcontainers.ContainerRequest) (string, error) {
	req.Labels = e.labels(req.Labels)
	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{ContainerRequest: req})
	if err != nil {
		return "", err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ctrs == nil {
		e.ctrs = map[string]testcontainers.Container{}
	}
	e.ctrs[ctr.GetContainerID()] = ctr
	return ctr.GetContainerID(), nil
}

// container returns the testcontainers handle of a container of the run.
func (e *engine) container(id string) (testcontainers.Container, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ctr, ok := e.ctrs[id]; ok {
		return ctr, nil
	}
	return nil, fmt.Errorf("container %.12s is not one this run created", id)
}

// execResult is the outcome of a command run inside a container.
type execResult struct {
	Code   int
	Stdout string
	Stderr string
}

func (r execResult) String() string {
	return strings.TrimSpace(r.Stdout + "\n" + r.Stderr)
}

// exec runs cmd in the container and waits for it; env adds variables to
// this one command only (secrets travel this way, never on a command line).
func (e *engine) exec(ctx context.Context, id string, env []string, cmd ...string) (execResult, error) {
	ctr, err := e.container(id)
	if err != nil {
		return execResult{Code: -1}, err
	}
	var out, errb bytes.Buffer
	code, err := execIn(ctx, ctr, cmd, &out, &errb, tcexec.WithEnv(env))
	if err != nil {
		return execResult{Code: -1}, fmt.Errorf("exec %q: %w", strings.Join(cmd, " "), err)
	}
	return execResult{Code: code, Stdout: out.String(), Stderr: errb.String()}, nil
}

// execIn runs cmd through testcontainers' Exec, which reads the output to
// the end and honours ctx, and copies its stdout and stderr to the two
// writers (one writer for both keeps their order).
func execIn(ctx context.Context, ctr testcontainers.Container, cmd []string, stdout, stderr io.Writer, opts ...tcexec.ProcessOption) (int, error) {
	code, r, err := ctr.Exec(ctx, cmd, opts...)
	if err != nil {
		return -1, err
	}
	if _, err := stdcopy.StdCopy(stdout, stderr, r); err != nil && !errors.Is(err, io.EOF) {
		return -1, fmt.Errorf("read the output: %w", err)
	}
	return code, nil
}

// mustExec is exec that turns a non-zero exit into an error.
func (e *engine) mustExec(ctx context.Context, id string, env []string, cmd ...string) (string, error) {
	r, err := e.exec(ctx, id, env, cmd...)
	if err != nil {
		return "", err
	}
	if r.Code != 0 {
		return r.Stdout, fmt.Errorf("%q exited %d: %s", strings.Join(cmd, " "), r.Code, lastLines(r.String(), 5))
	}
	return r.Stdout, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// start starts (or starts again) a created, stopped or killed container.
func (e *engine) start(ctx context.Context, id string) error {
	ctr, err := e.container(id)
	if err != nil {
		return err
	}
	return ctr.Start(ctx)
}

func (e *engine) kill(ctx context.Context, id, signal string) error {
	_, err := e.cli.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: signal})
	return err
}

func (e *engine) state(ctx context.Context, id string) (*container.State, error) {
	ctr, err := e.container(id)
	if err != nil {
		return nil, err
	}
	return ctr.State(ctx)
}

// waitHealthy waits until the container's health check reports healthy,
// failing at once when it stops. A container without a health check is
// ready when it runs.
func (e *engine) waitHealthy(ctx context.Context, id, name string) error {
	ctr, err := e.container(id)
	if err != nil {
		return err
	}
	st, err := ctr.State(ctx)
	if err != nil {
		return err
	}
	if !st.Running {
		return fmt.Errorf("%s stopped (exit %d) before it became healthy: %s", name, st.ExitCode, e.tail(ctx, id, 8))
	}
	if st.Health == nil {
		return nil
	}
	// The strategy has a timeout of its own; the caller's context decides.
	timeout := 24 * time.Hour
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	err = wait.ForHealthCheck().WithPollInterval(300*time.Millisecond).WithStartupTimeout(timeout).WaitUntilReady(ctx, ctr)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s did not become healthy: %w; log: %s", name, err, e.tail(context.Background(), id, 8))
	default:
		return fmt.Errorf("%s stopped before it became healthy: %w: %s", name, err, e.tail(context.Background(), id, 8))
	}
}

// tail returns the container's last log lines, for error messages.
func (e *engine) tail(ctx context.Context, id string, n int) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ctr, err := e.container(id)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	rc, err := ctr.Logs(ctx)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return lastLines(string(b), n)
}

// Leftovers lists what still carries the run label: containers, networks
// and volumes, as "kind name" strings.
func Leftovers(ctx context.Context, cli *client.Client, runID string) ([]string, error) {
	objs, err := listLabelled(ctx, cli, LabelRun+"="+runID)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.String()
	}
	return out, nil
}

// Cleanup removes every container, network and volume labelled with the
// run id. It keeps going on errors and returns them joined.
func Cleanup(ctx context.Context, cli *client.Client, runID string) error {
	objs, err := listLabelled(ctx, cli, LabelRun+"="+runID)
	if err != nil {
		return err
	}
	return removeObjects(ctx, cli, objs)
}

// object is a container, network or volume found by label.
type object struct {
	Kind   string // container, network, volume
	ID     string
	Name   string
	Labels map[string]string
}

func (o object) String() string { return o.Kind + " " + o.Name }

// listLabelled lists the containers, networks and volumes matching a
// label filter ("key" or "key=value").
func listLabelled(ctx context.Context, cli *client.Client, label string) ([]object, error) {
	f := make(client.Filters).Add("label", label)
	var out []object
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, err
	}
	for _, c := range cs.Items {
		out = append(out, object{"container", c.ID, strings.TrimPrefix(strings.Join(c.Names, ","), "/"), c.Labels})
	}
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return nil, err
	}
	for _, n := range ns.Items {
		out = append(out, object{"network", n.ID, n.Name, n.Labels})
	}
	vs, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err != nil {
		return nil, err
	}
	for _, v := range vs.Items {
		out = append(out, object{"volume", v.Name, v.Name, v.Labels})
	}
	return out, nil
}

// removeObjects removes containers (those sharing a site host's network
// first, the hosts after), then networks, then volumes. It keeps going on
// errors and returns them joined.
func removeObjects(ctx context.Context, cli *client.Client, objs []object) error {
	var errs []error
	gone := func(err error) {
		if err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	for pass := 0; pass < 2; pass++ {
		for _, o := range objs {
			isHost := o.Labels[labelRole] == roleNetworkOwner
			if o.Kind != "container" || (pass == 0) == isHost {
				continue
			}
			_, err := cli.ContainerRemove(ctx, o.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
			gone(err)
		}
	}
	for _, o := range objs {
		if o.Kind == "network" {
			_, err := cli.NetworkRemove(ctx, o.ID, client.NetworkRemoveOptions{})
			gone(err)
		}
	}
	for _, o := range objs {
		if o.Kind == "volume" {
			_, err := cli.VolumeRemove(ctx, o.ID, client.VolumeRemoveOptions{Force: true})
			gone(err)
		}
	}
	return errors.Join(errs...)
}

// CleanupCommands are the shell commands that remove a kept run.
func CleanupCommands(runID string) []string {
	l := LabelRun + "=" + runID
	return []string{
		"docker rm -f $(docker ps -aq --filter label=" + l + ")",
		"docker network rm $(docker network ls -q --filter label=" + l + ")",
		"docker volume rm $(docker volume ls -q --filter label=" + l + ")",
	}
}

const (
	labelRole        = "dev.hagen.verify.role"
	roleNetworkOwner = "netns-owner"
)
