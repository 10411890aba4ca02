package render

import "github.com/hagen-ha/hagen/contract"

// libComponent is the shell library every hagen script of a site sources:
// reading secrets by reference, logging.
type libComponent struct {
	noTree
	noPackages
}

// onWitness: a witness site's etcd/run.sh sources the library too.
func (libComponent) onWitness() {}

func (libComponent) site(v *siteView) {
	v.file("lib/hagen.sh", 0o644, contract.ReaderShell, "site/lib/hagen.sh.tmpl", struct{ Header string }{header(v.Spec, "#")})
}
