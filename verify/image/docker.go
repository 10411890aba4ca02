package image

import (
	"context"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// NewClient returns a Docker engine client configured from the environment
// (DOCKER_HOST, DOCKER_API_VERSION, DOCKER_CERT_PATH, DOCKER_TLS_VERIFY). The
// API version is negotiated with the engine on the first request.
func NewClient() (*client.Client, error) {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return cli, nil
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
