package render

import (
	"fmt"
	"strings"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/schema"
)

// appsComponent is the spec's application services: each runs its own
// image, in the compose project or, natively, with docker run; it reaches
// the database and the site's other services by their compose names.
type appsComponent struct{}

func (appsComponent) packages() hostPackages {
	return hostPackages{HostOnly: []string{"docker.io"}}
}

func (appsComponent) site(v *siteView) {
	db := v.T.Database
	names := v.appServices()
	for _, name := range names {
		svc := v.T.Services[name]
		container := "hagen-" + v.T.Name + "-" + name
		// Natively, the database and the site's other services live on the
		// host, which the container reaches through Docker's host gateway.
		aliases := []string{db.Service}
		for _, other := range names {
			if other != name {
				aliases = append(aliases, other)
			}
		}
		s := &service{
			Name:    name,
			Unit:    name,
			Label:   "app",
			What:    "service " + name,
			Runs:    name,
			Image:   svc.Image,
			Command: svc.Command,
			Native: native{
				Comment: []string{
					fmt.Sprintf("The app service %s in the container %s.", name, container),
					fmt.Sprintf("The names %s resolve to this host, where the database listens on port %d.", strings.Join(aliases, ", "), db.PublishedPort),
				},
				Docker:      true,
				Container:   container,
				HostAliases: aliases,
			},
		}
		for _, k := range sortedKeys(svc.Environment) {
			s.Env = append(s.Env, envVar{k, svc.Environment[k]})
		}
		for _, k := range sortedKeys(svc.Secrets) {
			s.Secrets = append(s.Secrets, secretUse{k, svc.Secrets[k]})
		}
		for _, p := range svc.Ports {
			s.Ports = append(s.Ports, port{Published: p.Published, Target: p.Target, Protocol: p.Protocol})
		}
		if svc.DependsOnDatabase && !v.ProxyOnly {
			s.DependsOn = []dependency{{Service: db.Service, Healthy: true}}
		}
		v.service(s)

		app := contract.InventoryApp{Service: name}
		for _, p := range svc.Ports {
			app.Ports = append(app.Ports, p.Published)
		}
		v.inv.Apps = append(v.inv.Apps, app)
		ra := newRunbookApp(name, svc)
		v.rb.Apps = append(v.rb.Apps, ra)
		if svc.DependsOnDatabase {
			v.rb.DBApps = append(v.rb.DBApps, name)
		}
	}
	var through []string
	for _, a := range v.rb.Apps {
		if a.FirstPort > 0 {
			through = append(through, fmt.Sprintf("%s at %s:%d", a.Name, v.Site.Host, a.FirstPort))
		}
	}
	v.rb.Through = strings.Join(through, " or ")
}

func (appsComponent) tree(d *deployment) {
	t := d.t
	for _, name := range sortedKeys(t.Services) {
		svc := t.Services[name]
		d.rv.Apps = append(d.rv.Apps, newRunbookApp(name, svc))
		for _, p := range svc.Ports {
			d.port(rbPort{fmt.Sprintf("%d/%s", p.Published, p.Protocol), "service " + name, "clients"})
		}
	}
}

func newRunbookApp(name string, svc schema.Service) rbApp {
	a := rbApp{Name: name, Image: svc.Image}
	var ports []string
	for _, p := range svc.Ports {
		ports = append(ports, fmt.Sprint(p.Published))
	}
	a.Ports = strings.Join(ports, ", ")
	if len(svc.Ports) > 0 {
		a.FirstPort = svc.Ports[0].Published
	}
	return a
}
