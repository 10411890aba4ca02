// Package image builds the hagen node image: one Debian bookworm image with
// everything a rendered site runs or checks (PostgreSQL 15, Bucardo,
// keepalived, HAProxy, Patroni, etcd, BIND, and the tools that validate
// their files).
//
// The image is built without a container registry: debootstrap fetches the
// packages from the host's Debian mirror, and the resulting tree is imported
// into the Docker engine. Dockerfile renders the same build for users who can
// pull debian:bookworm-slim. Both are generated from the package list and the
// post-install steps in this file, which are the single source of truth.
package image

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Repository is the image name; the tag is derived from the build inputs.
// $HAGEN_NODE_REPOSITORY replaces it, for a cold build beside an image
// that others use.
const Repository = "hagen-node"

// RepositoryEnv overrides Repository.
const RepositoryEnv = "HAGEN_NODE_REPOSITORY"

func repository() string {
	if r := os.Getenv(RepositoryEnv); r != "" {
		return r
	}
	return Repository
}

// Suite is the Debian release the image is built from.
const Suite = "bookworm"

// variant is debootstrap's variant: only Essential packages, apt and what
// packages lists pull in through Depends (no Recommends).
const variant = "minbase"

// packages is the one list of Debian packages in the node image. debootstrap
// resolves Depends but not Recommends, and the Dockerfile installs with
// --no-install-recommends, so anything needed must be named here.
var packages = []string{
	// PostgreSQL and Bucardo. postgresql-plperl-15 is only a Recommends of
	// bucardo, but Bucardo's control database needs plperlu.
	"postgresql-15",
	"postgresql-client-15",
	"postgresql-plperl-15",
	"bucardo",
	// Virtual IP and load balancing.
	"keepalived",
	"haproxy",
	// Failover by consensus (database.streaming.manager "patroni"):
	// Patroni 3.0.2 and its etcd and PostgreSQL drivers (an alternative
	// and a dependency of patroni: named so that the choice is fixed),
	// etcd 3.4 and etcdctl. Their Debian units are never started in a
	// container; a native host disables them (RUNBOOK.md).
	"patroni",
	"python3-etcd",
	"python3-psycopg2",
	"etcd-server",
	"etcd-client",
	// DNS: named, named-checkconf and named-checkzone, dig.
	"bind9",
	"bind9-utils",
	"bind9-dnsutils",
	// Networking and fault injection.
	"iproute2",
	"iptables",
	"iputils-ping",
	"netcat-openbsd",
	"curl",
	"ca-certificates",
	"procps",
	// Checking rendered files: shell scripts and systemd units
	// (systemd-analyze verify).
	"shellcheck",
	"systemd",
}

// Packages returns a copy of the package list, in its canonical order.
func Packages() []string { return slices.Clone(packages) }

// postInstall are the steps run after the packages are installed, one shell
// command per entry: joined into a script for the chroot, and into one RUN
// instruction for the Dockerfile.
var postInstall = []string{
	// The postgresql-15 package creates and may start a 15/main cluster;
	// hagen creates its own clusters at run time.
	"if [ -d /etc/postgresql/15/main ]; then pg_dropcluster --stop 15 main; fi",
	"rm -rf /etc/postgresql/15/main /var/lib/postgresql/15/main",
	// Bucardo's CLI reads /etc/bucardorc and writes its pid files and logs
	// to these directories; /var/run/bucardo is not shipped by the package.
	"install -d -o bucardo -g bucardo -m 0755 /var/run/bucardo",
	"install -d -o bucardo -g bucardo -m 0750 /var/log/bucardo",
	"chown bucardo:bucardo /etc/bucardorc",
	"chmod 0640 /etc/bucardorc",
	// Stale pid files make keepalived and others refuse to start.
	"rm -f /run/*.pid /run/postgresql/*.pid /run/bucardo/*.pid /run/named/*.pid /run/haproxy/*.pid",
	// The machine id generated at install time would be shared by every
	// container.
	"rm -f /var/lib/dbus/machine-id",
	": > /etc/machine-id",
	// Shrink: package caches, indexes, documentation and build logs.
	"apt-get clean",
	"rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old /var/lib/dpkg/*-old",
	"rm -rf /usr/share/doc/* /usr/share/man/* /usr/share/info/* /usr/share/locale/* /usr/share/lintian",
	"rm -f /var/log/*.log /var/log/apt/* /var/log/bootstrap.log",
}

// rootfsOnly are steps run after postInstall in the debootstrap tree only:
// debootstrap copies the host's name and resolver configuration into it,
// whereas a Dockerfile build sees Docker's bind mounts there.
var rootfsOnly = []string{
	"rm -f /etc/hostname",
	": > /etc/resolv.conf",
}

// PostgresBin is the directory of the PostgreSQL server binaries (initdb,
// postgres, pg_ctl, pg_rewind), put first on the image's PATH.
const PostgresBin = "/usr/lib/postgresql/15/bin"

// config are the image configuration instructions, applied as Dockerfile
// instructions (and as import changes to the debootstrap tree).
var config = []string{
	"ENV PATH=" + PostgresBin + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"ENV LANG=C.UTF-8",
	`CMD ["sleep", "infinity"]`,
}

// Labels on the image. The inputs label holds the full hash the tag is cut
// from; the packages label lists the package list.
const (
	LabelInputs   = "io.hagen.node.inputs"
	LabelPackages = "io.hagen.node.packages"
)

// inputs are everything that decides the content of the image.
type inputs struct {
	suite    string
	variant  string
	packages []string
	script   string
	config   []string
}

func currentInputs() inputs {
	return inputs{
		suite:    Suite,
		variant:  variant,
		packages: packages,
		script:   rootfsScript(),
		config:   config,
	}
}

// hash is the hex sha256 over the inputs, written with lengths so that no
// two different inputs produce the same byte stream.
func (in inputs) hash() string {
	h := sha256.New()
	field := func(name, value string) {
		fmt.Fprintf(h, "%s %d\n%s\n", name, len(value), value)
	}
	field("suite", in.suite)
	field("variant", in.variant)
	for _, p := range in.packages {
		field("package", p)
	}
	field("script", in.script)
	for _, c := range in.config {
		field("config", c)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (in inputs) tag() string { return repository() + ":" + in.hash()[:12] }

// Tag is the image reference for the current build inputs,
// "hagen-node:" followed by the first 12 hex digits of their sha256.
func Tag() string { return currentInputs().tag() }

// InputsHash is the full sha256 over the build inputs, stored in the image's
// LabelInputs label.
func InputsHash() string { return currentInputs().hash() }

// rootfsScript is the POSIX shell script run in the debootstrap tree: the
// post-install steps, then the rootfs-only ones.
func rootfsScript() string {
	var b strings.Builder
	b.WriteString("set -eu\n")
	for _, step := range slices.Concat(postInstall, rootfsOnly) {
		b.WriteString(step)
		b.WriteByte('\n')
	}
	return b.String()
}

// imageChanges are the import changes: config plus the labels, which carry
// the hash and so cannot be part of it.
func imageChanges() []string {
	return append(slices.Clone(config), labelInstruction())
}

func labelInstruction() string {
	return fmt.Sprintf("LABEL %s=%s %s=%q", LabelInputs, InputsHash(), LabelPackages, strings.Join(packages, " "))
}

// progressf writes one progress line to w, ignoring write errors: progress
// is informational and must not fail a build.
func progressf(w io.Writer, format string, args ...any) {
	_, _ = fmt.Fprintf(w, format+"\n", args...)
}
