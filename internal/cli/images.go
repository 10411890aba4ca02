package cli

import (
	"flag"
	"fmt"

	"github.com/moby/moby/client"

	"github.com/hagen-ha/hagen/verify/image"
)

func init() { extraCommands = append(extraCommands, imagesCmd()) }

func imagesCmd() *command {
	return &command{
		name:    "images",
		summary: "build the node image verify runs, or print its Dockerfile",
		usage:   "build [--tag REF] | dockerfile",
		help: `
Images manages the node image (PostgreSQL with PL/Perl, Bucardo,
keepalived, HAProxy, BIND, iproute2, iptables) that hagen verify runs.

  hagen images build       build it from Debian packages with debootstrap
                           (needs root and a Debian mirror, no registry;
                           debootstrap itself is fetched from that mirror
                           into ~/.cache/hagen when it is not installed);
                           prints the tag and the cold build time, or
                           "present" when the tag exists already; then
                           tags it REF (default hagen-node:bookworm, the
                           spec's default render.nodeImage), the name the
                           rendered compose files and units use
  hagen images dockerfile  print an equivalent Dockerfile for hosts that
                           can pull a Debian base image

Examples:
  hagen images build
  hagen images build --tag registry.example/hagen-node:bookworm
  hagen images dockerfile > Dockerfile && docker build -t hagen-node:bookworm .`,
		run: runImages,
	}
}

func runImages(c *command, e *env, args []string) int {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		fmt.Fprintf(e.stdout, "Usage: hagen %s %s\n%s\n", c.name, c.usage, c.helpText())
		return ExitOK
	}
	if len(args) == 0 {
		return usageErr(e, c, "want one subcommand: build or dockerfile")
	}
	switch args[0] {
	case "dockerfile":
		if len(args) != 1 {
			return usageErr(e, c, "dockerfile takes no arguments")
		}
		fmt.Fprint(e.stdout, image.Dockerfile())
		return ExitOK
	case "build":
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		tag := fs.String("tag", defaultNodeImage, "also tag the image as `REF` (the spec's render.nodeImage)")
		pos, code, ok := parse(e, c, fs, args[1:])
		if !ok {
			return code
		}
		if len(pos) != 0 {
			return usageErr(e, c, "build takes no arguments, got %q", pos[0])
		}
		res, err := image.Build(e.ctx, image.Options{Progress: e.stderr})
		if err != nil {
			fmt.Fprintf(e.stderr, "hagen images build: %v\n", err)
			return ExitInvalid
		}
		if res.Skipped {
			fmt.Fprintf(e.stdout, "%s present\n", res.Tag)
		} else {
			fmt.Fprintf(e.stdout, "%s built in %s (%d MB)\n", res.Tag, res.Duration.Round(100_000_000), res.Size>>20)
		}
		if *tag != "" && *tag != res.Tag {
			if err := tagImage(e, res.Tag, *tag); err != nil {
				fmt.Fprintf(e.stderr, "hagen images build: tag %s: %v\n", *tag, err)
				return ExitInvalid
			}
			fmt.Fprintf(e.stdout, "tagged %s\n", *tag)
		}
		return ExitOK
	}
	return usageErr(e, c, "unknown subcommand %q: want build or dockerfile", args[0])
}

// defaultNodeImage is the schema's default render.nodeImage.
const defaultNodeImage = "hagen-node:bookworm"

func tagImage(e *env, source, target string) error {
	cli, err := image.NewClient()
	if err != nil {
		return err
	}
	defer cli.Close()
	_, err = cli.ImageTag(e.ctx, client.ImageTagOptions{Source: source, Target: target})
	return err
}
