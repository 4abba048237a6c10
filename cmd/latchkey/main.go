// Command latchkey is a self-hosted integration-auth server.
package main

import (
	"context"
	"os"

	"github.com/latchkeyhq/latchkey/internal/cli"
)

func main() { os.Exit(cli.Main(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr)) }
