package render

import (
	"net/url"
	"sort"
	"strconv"

	"github.com/hagen-ha/hagen/contract"
)

// renderInventory writes inventory.json (contract.Inventory) last: the
// deployment's facts the components filled in, every site's services, and
// every file of the tree with its reader.
func renderInventory(d *deployment) {
	t := d.t
	inv := d.inv
	inv.Name = t.Name
	inv.Spec = d.spec
	inv.Test = t.Test
	inv.Domain = t.Domain
	inv.NodeImage = t.Render.NodeImage
	inv.InstallDir = t.Render.InstallDir
	inv.Mode = t.Database.Mode
	inv.Budgets = Budgets(t)
	for _, v := range d.sites {
		is := v.inv
		if v.Compose {
			is.Compose = v.path("docker-compose.yaml")
		}
		for _, s := range v.services {
			is.Services = append(is.Services, s.Name)
		}
		inv.Sites = append(inv.Sites, *is)
	}
	d.b.readers[contract.InventoryFile] = contract.ReaderInventory
	inv.Files = make([]contract.RenderedFile, 0, len(d.b.readers))
	for p, r := range d.b.readers {
		inv.Files = append(inv.Files, contract.RenderedFile{Path: p, Reader: r})
	}
	sort.Slice(inv.Files, func(i, j int) bool { return inv.Files[i].Path < inv.Files[j].Path })
	delete(d.b.readers, contract.InventoryFile)
	d.b.contractFile(contract.InventoryFile, contract.ReaderInventory, inv)
}

// urlPort is the port of a URL like grpc://ha.test:8001, or 0.
func urlPort(raw string) int {
	u, err := url.Parse(raw)
	if err != nil {
		return 0
	}
	port, _ := strconv.Atoi(u.Port())
	return port
}
