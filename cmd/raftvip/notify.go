package main

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/config"
	"github.com/raftvip/raftvip/notify"
)

// newNotifier starts the notify block's notifier (nil without one: no
// block, or a witness, whose config has none).
func newNotifier(cfg *config.Config, log hclog.Logger) *notify.Notifier {
	n := cfg.Notify
	if n == nil || cfg.Role != config.RoleDB {
		return nil
	}
	webhookName := ""
	if n.Webhook != "" {
		webhookName = config.RedactURL(n.Webhook)
	}
	log.Info("notify: keepalived-compatible notifications on", "instance", n.Instance, "notify_master", n.Master != nil,
		"notify_backup", n.Backup != nil, "notify_fault", n.Fault != nil, "notify_stop", n.Stop != nil, "notify", n.Notify != nil,
		"fifo", n.FIFO, "webhook", webhookName, "timeout", n.Timeout)
	return notify.New(notify.Options{Instance: n.Instance, Priority: int(cfg.VRRP.Priority),
		Master: n.Master, Backup: n.Backup, Fault: n.Fault, Stop: n.Stop, Notify: n.Notify,
		FIFO: n.FIFO, Timeout: n.Timeout, Webhook: n.Webhook, WebhookName: webhookName, Logger: log})
}

// closeNotifier delivers the STOP notification (queued by Shutdown) within
// what is left of the shutdown budget, but at least 1 s, which is what
// keepalived gives notify_stop.
func closeNotifier(n *notify.Notifier, budget context.Context) {
	if n == nil {
		return
	}
	left := time.Second
	if d, ok := budget.Deadline(); ok && time.Until(d) > left {
		left = time.Until(d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), left)
	defer cancel()
	n.Close(ctx)
}
