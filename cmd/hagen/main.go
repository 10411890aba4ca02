// Command hagen renders a high-availability deployment from a CUE spec and
// proves in Docker that its failover works.
package main

import (
	"os"

	"github.com/hagen-ha/hagen/internal/cli"
)

func main() { os.Exit(cli.Main()) }
