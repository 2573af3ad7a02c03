package main

import (
	"io"

	"github.com/spf13/cobra"
)

func newReportCmd(stdout, stderr io.Writer) *cobra.Command {
	return &cobra.Command{Use: "report", Hidden: true}
}
