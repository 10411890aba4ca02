package image

import (
	"context"
	"fmt"
	"os"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// NewClient returns testcontainers-go's Docker engine client, configured as
// testcontainers finds the engine (DOCKER_HOST and the other Docker
// variables, ~/.testcontainers.properties, the default socket). hagen drives
// Docker through testcontainers only; this client serves the engine calls
// testcontainers has no method for.
//
// testcontainers' reaper (Ryuk) is disabled: its image would have to be
// pulled. Its configuration is read once per process, so this runs before
// any other testcontainers call; hagen removes its objects by label instead.
func NewClient() (*client.Client, error) {
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true") // exactly "true"
	cli, err := testcontainers.NewDockerClientWithOpts(context.Background())
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return cli.Client, nil
}

// Ping reports whether a Docker engine answers.
func Ping(ctx context.Context, cli *client.Client) error {
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return fmt.Errorf("docker engine: %w", err)
	}
	return nil
}

// Exists reports whether the engine from the environment has an image with
// the given reference.
func Exists(ctx context.Context, ref string) (bool, error) {
	cli, err := NewClient()
	if err != nil {
		return false, err
	}
	defer cli.Close()
	_, ok, err := inspect(ctx, cli, ref)
	return ok, err
}

// inspect returns the image's size, whether it exists, and any other error.
func inspect(ctx context.Context, cli *client.Client, ref string) (int64, bool, error) {
	res, err := cli.ImageInspect(ctx, ref)
	if cerrdefs.IsNotFound(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	return res.Size, true, nil
}
