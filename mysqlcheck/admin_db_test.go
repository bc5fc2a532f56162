package mysqlcheck_test

import (
	"github.com/raftvip/raftvip/agent"
	"github.com/raftvip/raftvip/mysqlcheck"
)

// Admin is the agent's real DB.
var _ agent.DB = (*mysqlcheck.Admin)(nil)
