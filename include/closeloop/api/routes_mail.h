/* routes_mail: GET /api/v1/mail, the mail queue for operators (admin scope): messages
 * newest first, by status, with their attempts and the server's last reply
 * (sql/functions/mail.sql's cl_mail_list()), and whether this instance sends mail. */
#ifndef CLOSELOOP_ROUTES_MAIL_H
#define CLOSELOOP_ROUTES_MAIL_H

#include "closeloop/api/api.h"

/* Adds the routes to a (at start-up, before serving). */
void routes_mail_add(struct api *a);

#endif
