// Command validate checks the run's configuration (every -e2e.* flag and
// its environment variable, and the kind configs they name) and nothing
// else: no Docker, no network, no cluster. make runs it before anything
// starts; on error it writes ARTIFACTS/junit.xml naming the error. It is
// `mesh validate` in a binary that links only the configuration, so that
// make rebuilds it in about a second after a change, where the mesh command
// takes ten seconds or more.
package main

import (
	"flag"
	"os"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/config"
	kindconfigs "github.com/clustermesh-conformance/clustermesh-e2e/kind"
)

func main() {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	loader := config.Bind(fs)
	err := fs.Parse(os.Args[1:])
	os.Exit(config.CheckCommand(config.CheckInput{Loader: loader, ParseErr: err, Files: kindconfigs.Check, Out: os.Stderr}))
}
