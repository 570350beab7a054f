/*
 * h_base.c - GET /v2/: the API version check every client starts with.
 */
#include "fcgi/gate.h"
#include "fcgi/handlers.h"

enum berr h_base(struct req *r)
{
	enum berr err;

	if ((err = gate_check(r, NULL, AUTH_PULL)))
		return err;
	resp_send(r, 200, "application/json", "{}", 2);
	return BERR_OK;
}
