package main

import (
	"io"

	"github.com/spf13/cobra"
)

func newPreviewCmd(stdout, stderr io.Writer) *cobra.Command {
	return &cobra.Command{Use: "preview", Hidden: true}
}
