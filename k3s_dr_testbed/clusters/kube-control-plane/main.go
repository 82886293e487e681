// Command kube-control-plane is one multi-call binary serving as kube-apiserver,
// kube-controller-manager, kube-scheduler and kubelet, chosen by the name it is
// invoked under (argv[0]) or by its first argument. One binary keeps the build
// cache small and the versions of the four components identical.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
)

func command(name string) *cobra.Command {
	switch name {
	case "kube-apiserver":
		return apiserver.NewAPIServerCommand()
	case "kube-controller-manager":
		return controllermanager.NewControllerManagerCommand()
	case "kube-scheduler":
		return scheduler.NewSchedulerCommand()
	case "kubelet":
		return kubelet.NewKubeletCommand(context.Background())
	}
	return nil
}

func main() {
	cmd := command(filepath.Base(os.Args[0]))
	if cmd == nil && len(os.Args) > 1 {
		// Called as "kube-control-plane kube-apiserver --flags...".
		if cmd = command(os.Args[1]); cmd != nil {
			os.Args = os.Args[1:]
		}
	}
	if cmd == nil {
		fmt.Fprintln(os.Stderr, "usage: kube-control-plane {kube-apiserver|kube-controller-manager|kube-scheduler|kubelet} [flags]")
		os.Exit(2)
	}
	os.Exit(cli.Run(cmd))
}
