package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// LabelRun is the label every container, network and volume of a verify
// run carries; its value is the run id. Cleanup removes by this label.
const LabelRun = "dev.hagen.run"

// engine wraps the Docker client with the run's label.
type engine struct {
	cli   *client.Client
	runID string
}

func (e *engine) labels(extra map[string]string) map[string]string {
	l := map[string]string{LabelRun: e.runID}
	for k, v := range extra {
		l[k] = v
	}
	return l
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
	cr, err := e.cli.ExecCreate(ctx, id, client.ExecCreateOptions{
		AttachStdout: true, AttachStderr: true, Env: env, Cmd: cmd,
	})
	if err != nil {
		return execResult{Code: -1}, fmt.Errorf("exec %q: %w", strings.Join(cmd, " "), err)
	}
	att, err := e.cli.ExecAttach(ctx, cr.ID, client.ExecAttachOptions{})
	if err != nil {
		return execResult{Code: -1}, fmt.Errorf("exec %q: %w", strings.Join(cmd, " "), err)
	}
	defer att.Close()
	var out, errb bytes.Buffer
	done := make(chan error, 1)
	go func() { _, err := stdcopy.StdCopy(&out, &errb, att.Reader); done <- err }()
	select {
	case <-ctx.Done():
		return execResult{Code: -1}, ctx.Err()
	case err := <-done:
		if err != nil && !errors.Is(err, io.EOF) {
			return execResult{Code: -1}, fmt.Errorf("exec %q: %w", strings.Join(cmd, " "), err)
		}
	}
	ins, err := e.cli.ExecInspect(ctx, cr.ID, client.ExecInspectOptions{})
	if err != nil {
		return execResult{Code: -1}, err
	}
	return execResult{Code: ins.ExitCode, Stdout: out.String(), Stderr: errb.String()}, nil
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

func (e *engine) start(ctx context.Context, id string) error {
	_, err := e.cli.ContainerStart(ctx, id, client.ContainerStartOptions{})
	return err
}

func (e *engine) kill(ctx context.Context, id, signal string) error {
	_, err := e.cli.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: signal})
	return err
}

func (e *engine) state(ctx context.Context, id string) (*container.State, error) {
	r, err := e.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return nil, err
	}
	return r.Container.State, nil
}

// waitHealthy waits until the container's health check reports healthy.
func (e *engine) waitHealthy(ctx context.Context, id, name string) error {
	for {
		st, err := e.state(ctx, id)
		if err != nil {
			return err
		}
		if !st.Running {
			return fmt.Errorf("%s stopped (exit %d) before it became healthy: %s", name, st.ExitCode, e.tail(ctx, id, 8))
		}
		if st.Health == nil || st.Health.Status == container.Healthy {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not become healthy: %w; log: %s", name, ctx.Err(), e.tail(context.Background(), id, 8))
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// tail returns the container's last log lines, for error messages.
func (e *engine) tail(ctx context.Context, id string, n int) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rc, err := e.cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: fmt.Sprint(n)})
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer rc.Close()
	var out bytes.Buffer
	_, _ = stdcopy.StdCopy(&out, &out, rc)
	return lastLines(out.String(), n)
}

// Leftovers lists what still carries the run label: containers, networks
// and volumes, as "kind name" strings.
func Leftovers(ctx context.Context, cli *client.Client, runID string) ([]string, error) {
	f := make(client.Filters).Add("label", LabelRun+"="+runID)
	var out []string
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, err
	}
	for _, c := range cs.Items {
		out = append(out, "container "+strings.Join(c.Names, ","))
	}
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return nil, err
	}
	for _, n := range ns.Items {
		out = append(out, "network "+n.Name)
	}
	vs, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err != nil {
		return nil, err
	}
	for _, v := range vs.Items {
		out = append(out, "volume "+v.Name)
	}
	return out, nil
}

// Cleanup removes every container, network and volume labelled with the
// run id. It keeps going on errors and returns them joined.
func Cleanup(ctx context.Context, cli *client.Client, runID string) error {
	f := make(client.Filters).Add("label", LabelRun+"="+runID)
	var errs []error
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return err
	}
	// Containers sharing a site host's network go first, the hosts after.
	for pass := 0; pass < 2; pass++ {
		for _, c := range cs.Items {
			isHost := c.Labels[labelRole] == roleNetworkOwner
			if (pass == 0) == isHost {
				continue
			}
			_, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
			if err != nil && !cerrdefs.IsNotFound(err) {
				errs = append(errs, err)
			}
		}
	}
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		errs = append(errs, err)
	} else {
		for _, n := range ns.Items {
			if _, err := cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
				errs = append(errs, err)
			}
		}
	}
	vs, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err != nil {
		errs = append(errs, err)
	} else {
		for _, v := range vs.Items {
			if _, err := cli.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
				errs = append(errs, err)
			}
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
