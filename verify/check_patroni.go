package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/hagen-ha/hagen/internal/lazyregexp"
)

// etcd and Patroni are checked by their own programs, together, because
// each needs the other:
//
//   - etcd/etcd.yml: etcd 3.4 has no check mode and ignores keys it does
//     not know, and one member cannot start alone against a cluster of
//     three. So every member of the tree is started, each from a copy of
//     its rendered file that differs only in data-dir (all members share
//     the check container), with the addresses its URLs name added to the
//     container's loopback. A member passes when its process runs, its
//     endpoint is healthy, the cluster it reports is exactly the
//     initial-cluster of its file, and it serves the v2 keyspace that
//     Patroni's etcd: section uses. A member that etcd refuses fails with
//     etcd's own message ("error verifying flags, ...").
//   - patroni/patroni.yml: `patroni --validate-config` (Patroni 3.0.2),
//     which checks the types and required keys, bin_dir's programs,
//     connect addresses, that the listen ports are free, and that every
//     etcd host answers: it runs against the tree's etcd cluster, started
//     first, with /etc/hagen showing the file's site.
const (
	etcdRoot = "/check/etcd"
	// etcdWait bounds how long the members of the tree get to form their
	// cluster (about a second when nothing is wrong).
	etcdWait = 30 * time.Second
)

type etcdState struct {
	results map[string]CheckResult
}

// etcdMemberFile is what the check reads of a member's etcd.yml; etcd
// itself reads the file.
type etcdMemberFile struct {
	Name             string `yaml:"name"`
	DataDir          string `yaml:"data-dir"`
	ListenPeerURLs   string `yaml:"listen-peer-urls"`
	ListenClientURLs string `yaml:"listen-client-urls"`
	AdvertiseClient  string `yaml:"advertise-client-urls"`
	InitialCluster   string `yaml:"initial-cluster"`
}

type etcdMember struct {
	f    *checkFile
	conf etcdMemberFile
	id   int
	// client is the URL the check asks; "" when the file names none.
	client string
}

// checkEtcd returns the verdict on one member's etcd.yml, starting every
// member of the tree the first time one is asked for.
func (b *checkBox) checkEtcd(ctx context.Context, f *checkFile) (CheckResult, error) {
	if err := b.etcdStart(ctx); err != nil {
		return CheckResult{}, err
	}
	r, ok := b.etcd.results[f.rel]
	if !ok {
		return CheckResult{}, fmt.Errorf("the etcd check gave no result for %s", f.rel)
	}
	return r, nil
}

// etcdStart starts every etcd member of the tree once and judges each.
func (b *checkBox) etcdStart(ctx context.Context) error {
	if b.etcd != nil {
		return nil
	}
	b.etcd = &etcdState{results: map[string]CheckResult{}}
	var members []*etcdMember
	for _, f := range b.t.files {
		if f.kind != checkerEtcd || f.missing {
			continue
		}
		m := &etcdMember{f: f, id: len(members)}
		// A file that does not parse is etcd's to report: it is started
		// all the same.
		_ = yaml.Unmarshal(f.data, &m.conf)
		m.client = firstURL(m.conf.AdvertiseClient)
		if m.client == "" {
			m.client = firstURL(m.conf.ListenClientURLs)
		}
		members = append(members, m)
	}
	if len(members) == 0 {
		return nil
	}
	var sh strings.Builder
	sh.WriteString("set -eu\nmkdir -p " + etcdRoot + "\n")
	addrs := map[string]bool{}
	for _, m := range members {
		for _, u := range strings.Split(m.conf.ListenPeerURLs+","+m.conf.ListenClientURLs, ",") {
			if h := urlHost(u); h != "" && h != "127.0.0.1" && h != "0.0.0.0" && !addrs[h] {
				addrs[h] = true
				fmt.Fprintf(&sh, "ip addr add %s dev lo 2>/dev/null || true\n", checkQuote(h+"/32"))
			}
		}
		copyPath, data := etcdCopy(m), fmt.Sprintf("%s/data/%d", etcdRoot, m.id)
		fmt.Fprintf(&sh, "sed -E 's#^data-dir:.*#data-dir: %s#' %s > %s\n", data, checkQuote(inBox(m.f)), copyPath)
		fmt.Fprintf(&sh, "grep -q '^data-dir:' %s || echo 'data-dir: %s' >> %s\n", copyPath, data, copyPath)
		fmt.Fprintf(&sh, "setsid etcd --config-file %s > %s/%d.log 2>&1 < /dev/null &\necho $! > %s/%d.pid\n", copyPath, etcdRoot, m.id, etcdRoot, m.id)
	}
	if code, out, err := b.exec(ctx, "", nil, "sh", "-c", sh.String()); err != nil || code != 0 {
		return fmt.Errorf("start the etcd members in the check container: exit %d %s %v", code, strings.TrimSpace(out), err)
	}
	fmt.Fprintf(b.progress, "check: started %d etcd member(s) of the tree\n", len(members))

	// Wait until every running member is healthy, or the time is up.
	deadline := time.Now().Add(etcdWait)
	var alive, healthy map[int]bool
	for {
		var err error
		alive, healthy, err = b.etcdProbe(ctx, members)
		if err != nil {
			return err
		}
		done := true
		for _, m := range members {
			if alive[m.id] && !healthy[m.id] {
				done = false
			}
		}
		if done || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	for _, m := range members {
		r := CheckResult{File: m.f.rel, Checker: checkerEtcd}
		switch {
		case !alive[m.id]:
			r.Message = "etcd did not start:\n" + b.etcdLog(ctx, m)
		case !healthy[m.id]:
			r.Message = fmt.Sprintf("the member did not become healthy within %s: it and the tree's other members form no cluster\n%s", etcdWait, b.etcdLog(ctx, m))
		default:
			msgs, err := b.etcdJudge(ctx, m)
			if err != nil {
				return err
			}
			r.OK, r.Message = len(msgs) == 0, strings.Join(msgs, "\n")
		}
		b.etcd.results[m.f.rel] = r
	}
	return nil
}

// etcdProbe reports which members' processes run and which endpoints
// are healthy.
func (b *checkBox) etcdProbe(ctx context.Context, members []*etcdMember) (alive, healthy map[int]bool, err error) {
	var sh strings.Builder
	for _, m := range members {
		fmt.Fprintf(&sh, "if kill -0 \"$(cat %s/%d.pid)\" 2>/dev/null; then echo 'alive %d'; fi\n", etcdRoot, m.id, m.id)
		if m.client != "" {
			fmt.Fprintf(&sh, "if etcdctl --endpoints=%s --dial-timeout=1s --command-timeout=2s endpoint health >/dev/null 2>&1; then echo 'healthy %d'; fi\n", checkQuote(m.client), m.id)
		}
	}
	_, out, err := b.exec(ctx, "", nil, "sh", "-c", sh.String())
	if err != nil {
		return nil, nil, err
	}
	alive, healthy = map[int]bool{}, map[int]bool{}
	for _, l := range strings.Split(out, "\n") {
		var word string
		var id int
		if n, _ := fmt.Sscanf(l, "%s %d", &word, &id); n == 2 {
			switch word {
			case "alive":
				alive[id] = true
			case "healthy":
				healthy[id] = true
			}
		}
	}
	return alive, healthy, nil
}

// etcdJudge checks a healthy member: the cluster it reports against its
// file's initial-cluster, and the v2 keyspace Patroni uses.
func (b *checkBox) etcdJudge(ctx context.Context, m *etcdMember) ([]string, error) {
	var msgs []string
	code, out, err := b.exec(ctx, "", nil, "etcdctl", "--endpoints="+m.client, "--command-timeout=3s", "member", "list", "-w", "json")
	if err != nil {
		return nil, err
	}
	var list struct {
		Members []struct {
			Name     string   `json:"name"`
			PeerURLs []string `json:"peerURLs"`
		} `json:"members"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil {
		msgs = append(msgs, "etcdctl member list failed: "+strings.TrimSpace(out))
	} else {
		var got []string
		for _, mem := range list.Members {
			for _, u := range mem.PeerURLs {
				got = append(got, mem.Name+"="+u)
			}
		}
		want := strings.Split(m.conf.InitialCluster, ",")
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			msgs = append(msgs, fmt.Sprintf("the member reports the cluster %s, but its initial-cluster is %s", strings.Join(got, ","), strings.Join(want, ",")))
		}
	}
	code, out, err = b.exec(ctx, "", nil, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "3", m.client+"/v2/keys")
	if err != nil {
		return nil, err
	}
	if code != 0 || strings.TrimSpace(out) != "200" {
		msgs = append(msgs, fmt.Sprintf("GET %s/v2/keys answered %s, not 200: Patroni's etcd: section needs the v2 keyspace (enable-v2: true)", m.client, strings.TrimSpace(out)))
	}
	return msgs, nil
}

// etcdLog is what a member logged, its copy's path shown as the file's.
func (b *checkBox) etcdLog(ctx context.Context, m *etcdMember) string {
	_, out, err := b.exec(ctx, "", nil, "sh", "-c", fmt.Sprintf("tail -n 20 %s/%d.log", etcdRoot, m.id))
	if err != nil {
		return err.Error()
	}
	out = strings.ReplaceAll(out, etcdCopy(m), inBox(m.f))
	return strings.TrimSpace(out)
}

// etcdCopy is the path of the member's copy in the container.
func etcdCopy(m *etcdMember) string { return fmt.Sprintf("%s/%d.yml", etcdRoot, m.id) }

// firstURL is the first of a comma-separated URL list.
func firstURL(list string) string {
	first, _, _ := strings.Cut(list, ",")
	return strings.TrimSpace(first)
}

// urlHost is the host of a URL, or "".
func urlHost(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// checkPatroni runs `patroni --validate-config` on a patroni.yml with the
// tree's etcd cluster running and /etc/hagen showing the file's site.
func (b *checkBox) checkPatroni(ctx context.Context, f *checkFile) (CheckResult, error) {
	if err := b.etcdStart(ctx); err != nil {
		return CheckResult{}, err
	}
	r := CheckResult{File: f.rel, Checker: checkerPatroni}
	code, out, err := b.exec(ctx, "", nil, "patroni", "--validate-config", inBox(f))
	if err != nil {
		return r, err
	}
	out = pythonError(checkCleanLines(out))
	r.OK = code == 0
	r.Message = out
	if !r.OK && r.Message == "" {
		r.Message = fmt.Sprintf("patroni --validate-config exited %d without a message", code)
	}
	return r, nil
}

var pythonFrame = lazyregexp.New(`^\s+(File "|\^+$|~+$)`)

// pythonError shortens a Python traceback to the exception it ends with
// (a YAML error with its position); other output is kept as it is.
func pythonError(out string) string {
	i := strings.LastIndex(out, "Traceback (most recent call last):")
	if i < 0 {
		return out
	}
	lines := strings.Split(out[i:], "\n")
	last := 0
	for j, l := range lines {
		if strings.HasPrefix(l, "  File \"") {
			last = j + 1
			// The frame's source line follows it, then markers.
			for last < len(lines) && (strings.HasPrefix(lines[last], "    ") || pythonFrame.MatchString(lines[last])) {
				last++
			}
		}
	}
	return strings.TrimSpace(out[:i] + strings.Join(lines[last:], "\n"))
}
