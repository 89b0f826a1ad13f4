#include "closeloop/util/policy/chat_conf.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CHAT_DEFAULT_TIMEOUT 10.0

const char *chat_flavour_name(enum chat_flavour f)
{
    return f == CHAT_SLACK ? "slack" : f == CHAT_TEAMS ? "teams" : "";
}

const char *chat_channel_format(const struct chat_channel *ch)
{
    if (ch->flavour == CHAT_TEAMS && ch->card == CHAT_CARD_MESSAGECARD)
        return "teams_messagecard";
    return chat_flavour_name(ch->flavour);
}

const struct chat_channel *chat_conf_find(const struct chat_conf *c, const char *name)
{
    int i;

    for (i = 0; name != NULL && i < c->n; i++)
        if (strcmp(c->channels[i].name, name) == 0)
            return &c->channels[i];
    return NULL;
}

static bool chat_name_ok(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || len >= CHAT_CONF_NAME)
        return false;
    for (i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
              s[i] == '-'))
            return false;
    return true;
}

/* The channel named by the first len bytes of name, added on first sight. */
static struct chat_channel *chat_channel_get(struct chat_conf *c, const char *name, size_t len,
                                             const char *where, struct cl_err *err)
{
    struct chat_channel *ch;
    int i;

    if (!chat_name_ok(name, len)) {
        cl_fail(err, CL_EINVAL, "%s: a chat channel's name is 1-32 of a-z 0-9 _ -", where);
        return NULL;
    }
    for (i = 0; i < c->n; i++)
        if (strlen(c->channels[i].name) == len && memcmp(c->channels[i].name, name, len) == 0)
            return &c->channels[i];
    if (c->n == CHAT_CONF_MAX) {
        cl_fail(err, CL_EINVAL, "%s: more than %d chat channels", where, CHAT_CONF_MAX);
        return NULL;
    }
    ch = &c->channels[c->n++];
    memset(ch, 0, sizeof(*ch));
    memcpy(ch->name, name, len);
    snprintf(ch->where, sizeof(ch->where), "%s", where);
    ch->timeout = CHAT_DEFAULT_TIMEOUT;
    return ch;
}

int chat_conf_set(struct chat_conf *c, const char *key, const char *value, const char *where,
                  struct cl_err *err)
{
    const char *dot = strrchr(key, '.');
    struct chat_channel *ch;
    char *end = NULL;
    double t;

    if (dot == NULL)
        return cl_fail(err, CL_EINVAL, "%s: chat keys are set in a [chat.NAME] section", where);
    ch = chat_channel_get(c, key, (size_t)(dot - key), where, err);
    if (ch == NULL)
        return err->code;
    if (strcmp(dot + 1, "kind") == 0) {
        if (strcmp(value, "slack") == 0)
            ch->flavour = CHAT_SLACK;
        else if (strcmp(value, "teams") == 0)
            ch->flavour = CHAT_TEAMS;
        else
            return cl_fail(err, CL_EINVAL, "%s: chat.%s.kind must be slack or teams", where,
                           ch->name);
        return CL_OK;
    }
    if (strcmp(dot + 1, "url") == 0) {
        if (strlen(value) >= sizeof(ch->url))
            return cl_fail(err, CL_EINVAL, "%s: chat.%s.url is longer than %d bytes", where,
                           ch->name, CHAT_CONF_URL - 1);
        snprintf(ch->url, sizeof(ch->url), "%s", value);
        snprintf(ch->url_where, sizeof(ch->url_where), "%s", where);
        return CL_OK;
    }
    if (strcmp(dot + 1, "card") == 0) {
        if (strcmp(value, "adaptive") == 0)
            ch->card = CHAT_CARD_ADAPTIVE;
        else if (strcmp(value, "messagecard") == 0)
            ch->card = CHAT_CARD_MESSAGECARD;
        else
            return cl_fail(err, CL_EINVAL, "%s: chat.%s.card must be adaptive or messagecard",
                           where, ch->name);
        snprintf(ch->card_where, sizeof(ch->card_where), "%s", where);
        return CL_OK;
    }
    if (strcmp(dot + 1, "timeout") == 0) {
        t = strtod(value, &end);
        if (end == value || *end != '\0' || !(t >= 0.1 && t <= 600))
            return cl_fail(err, CL_EINVAL, "%s: chat.%s.timeout must be seconds in 0.1..600", where,
                           ch->name);
        ch->timeout = t;
        return CL_OK;
    }
    return cl_fail(err, CL_EINVAL, "%s: unknown key \"%s\" in [chat.%s] (kind, url, timeout, card)",
                   where, dot + 1, ch->name);
}

bool chat_conf_url_ok(const char *url, bool allow_loopback)
{
    static const char loop[] = "http://127.0.0.1";
    size_t n = sizeof(loop) - 1;

    if (strncasecmp(url, "https://", 8) == 0)
        return url[8] != '\0' && strpbrk(url, " \t\r\n") == NULL;
    return allow_loopback && strncmp(url, loop, n) == 0 &&
           (url[n] == ':' || url[n] == '/' || url[n] == '\0') && strpbrk(url, " \t\r\n") == NULL;
}

int chat_conf_validate(const struct chat_conf *c, bool allow_loopback, struct cl_err *err)
{
    int i;

    for (i = 0; i < c->n; i++) {
        const struct chat_channel *ch = &c->channels[i];

        if (ch->flavour == CHAT_NONE)
            return cl_fail(err, CL_EINVAL, "%s: [chat.%s] needs kind = slack or teams", ch->where,
                           ch->name);
        if (ch->url[0] == '\0')
            return cl_fail(err, CL_EINVAL, "%s: [chat.%s] needs url = https://...", ch->where,
                           ch->name);
        /* never the url itself in the message: it is the secret */
        if (!chat_conf_url_ok(ch->url, allow_loopback))
            return cl_fail(err, CL_EINVAL, "%s: chat.%s.url must be an https:// URL", ch->url_where,
                           ch->name);
        if (ch->card_where[0] != '\0' && ch->flavour != CHAT_TEAMS)
            return cl_fail(err, CL_EINVAL, "%s: chat.%s.card is for kind = teams only",
                           ch->card_where, ch->name);
    }
    return CL_OK;
}

void chat_conf_print(const struct chat_conf *c, FILE *out)
{
    int i;

    for (i = 0; i < c->n; i++) {
        const struct chat_channel *ch = &c->channels[i];

        fprintf(out, "chat.%s.kind = %s\n", ch->name, chat_flavour_name(ch->flavour));
        fprintf(out, "chat.%s.url = %s\n", ch->name, ch->url[0] != '\0' ? "(set)" : "(unset)");
        fprintf(out, "chat.%s.timeout = %g\n", ch->name, ch->timeout);
        if (ch->flavour == CHAT_TEAMS)
            fprintf(out, "chat.%s.card = %s\n", ch->name,
                    ch->card == CHAT_CARD_MESSAGECARD ? "messagecard" : "adaptive");
    }
}
