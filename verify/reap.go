package verify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/moby/moby/client"
)

// Without testcontainers' reaper, a run killed with SIGKILL leaves its
// containers, networks and volumes behind, and the next run's networks
// clash with them. Every object therefore names the process that made it
// (labelOwner), and a run first removes the objects of runs whose process
// is gone.

const (
	// labelOwner is "<host>/<pid>/<start>": the machine, process id and
	// process start time (clock ticks since boot, /proc/<pid>/stat) of
	// the hagen process that created the object.
	labelOwner = "dev.hagen.owner"
	// labelKeep marks the objects of a run started with --keep: left up
	// on purpose, never reaped.
	labelKeep = "dev.hagen.keep"
)

// ownerLabels are the labels naming this process.
func ownerLabels() map[string]string {
	return map[string]string{labelOwner: ownerID(hostname(), os.Getpid())}
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}

func ownerID(host string, pid int) string {
	return fmt.Sprintf("%s/%d/%s", host, pid, procStart(pid))
}

// procStart is the start time of a process (field 22 of /proc/<pid>/stat),
// which tells a live process from a later one that reuses its pid; "" when
// it cannot be read.
func procStart(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return ""
	}
	return f[19]
}

// ownerGone reports whether the process named by an owner label has ended.
// It answers false (not known to be gone) for another machine's process
// and for a label it cannot read.
func ownerGone(owner, host string) bool {
	parts := strings.SplitN(owner, "/", 3)
	if len(parts) != 3 || parts[0] != host {
		return false
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil || pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	// Alive, or a pid reused by a process that started later.
	now := procStart(pid)
	return parts[2] != "" && now != "" && now != parts[2]
}

// stale is what one earlier run left behind.
type stale struct {
	RunID string
	Owner string
	Objs  []object
}

// findStale groups objects by their run label's value and returns the runs
// whose process is gone and that were not kept on purpose.
func findStale(objs []object, runLabel, host string) []stale {
	byRun := map[string]*stale{}
	var order []string
	for _, o := range objs {
		run := o.Labels[runLabel]
		if o.Labels[labelKeep] == "true" || !ownerGone(o.Labels[labelOwner], host) {
			continue
		}
		s, ok := byRun[run]
		if !ok {
			s = &stale{RunID: run, Owner: o.Labels[labelOwner]}
			byRun[run] = s
			order = append(order, run)
		}
		s.Objs = append(s.Objs, o)
	}
	slices.Sort(order)
	out := make([]stale, 0, len(order))
	for _, r := range order {
		out = append(out, *byRun[r])
	}
	return out
}

// reapStale removes what killed earlier runs on this machine left behind
// (verify's and check's objects, by label, only of runs whose process is
// gone) and says so through progress.
func reapStale(ctx context.Context, cli *client.Client, progress func(string, ...any)) error {
	// One reaper at a time on the machine (hagen check's parallel
	// checks, another process): the second then finds nothing left
	// instead of racing the first's removals ("removal ... is already in
	// progress", a network with endpoints still attached).
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "hagen-reap.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("reap lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("reap lock %s: %w", lock.Name(), err)
	}
	var errs []error
	for _, label := range []string{LabelRun, LabelCheck} {
		objs, err := listLabelled(ctx, cli, label)
		if err != nil {
			return fmt.Errorf("list leftovers: %w", err)
		}
		for _, s := range findStale(objs, label, hostname()) {
			names := make([]string, len(s.Objs))
			for i, o := range s.Objs {
				names[i] = o.String()
			}
			progress("removing what an earlier run (%s=%s, process %s, gone) left: %s", label, s.RunID, s.Owner, strings.Join(names, ", "))
			if err := removeObjects(ctx, cli, s.Objs); err != nil {
				errs = append(errs, fmt.Errorf("remove the leftovers of run %s: %w", s.RunID, err))
			}
		}
	}
	return errors.Join(errs...)
}
