package contract

import "sort"

// Reader names the program that reads a rendered file in production.
// inventory.json lists every rendered file with its reader, and hagen check
// runs that program (or the library it is built on) on the file: the list
// is how check knows what a file is, instead of guessing from its name.
type Reader string

// The readers of hagen's rendered files. Each is also the Checker string
// of hagen check's results.
const (
	ReaderCompose    Reader = "compose-go load"
	ReaderEnvFile    Reader = "compose-go dotenv"
	ReaderInventory  Reader = "hagen inventory"
	ReaderAgent      Reader = "hagen agent config"
	ReaderClient     Reader = "hagen client settings"
	ReaderHosts      Reader = "hosts"
	ReaderKeepalived Reader = "keepalived --config-test"
	ReaderHAProxy    Reader = "haproxy -c"
	ReaderPGConf     Reader = "postgres pg_file_settings"
	ReaderPGHBA      Reader = "postgres pg_hba_file_rules"
	ReaderPGIdent    Reader = "postgres pg_ident reload"
	ReaderZone       Reader = "named-checkzone"
	ReaderNamedConf  Reader = "named-checkconf"
	ReaderSystemd    Reader = "systemd-analyze verify"
	ReaderShell      Reader = "bash -n, shellcheck"
	ReaderBucardo    Reader = "apply.sh --dry-run"
	// ReaderPatroni: Patroni's own validator.
	ReaderPatroni Reader = "patroni --validate-config"
	// ReaderEtcd: etcd has no check mode; every member of the tree is
	// started and must form the cluster its configuration names.
	ReaderEtcd Reader = "etcd cluster start"
	// ReaderPeople marks a file no program reads (RUNBOOK.md).
	ReaderPeople Reader = "people"
)

// Readers returns every known reader, sorted.
func Readers() []Reader {
	out := make([]Reader, 0, len(knownReaders))
	for r := range knownReaders {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

var knownReaders = map[Reader]bool{
	ReaderCompose: true, ReaderEnvFile: true, ReaderInventory: true, ReaderAgent: true,
	ReaderClient: true, ReaderHosts: true, ReaderKeepalived: true, ReaderHAProxy: true,
	ReaderPGConf: true, ReaderPGHBA: true, ReaderPGIdent: true, ReaderZone: true,
	ReaderNamedConf: true, ReaderSystemd: true, ReaderShell: true, ReaderBucardo: true,
	ReaderPeople: true, ReaderPatroni: true, ReaderEtcd: true,
}

// Known reports whether r is one of the readers above.
func (r Reader) Known() bool { return knownReaders[r] }
