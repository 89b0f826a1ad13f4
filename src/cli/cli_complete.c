#include "closeloop/cli/cli_complete.h"

#include "closeloop/util/cl.h"
#include "closeloop/cli/cli_api.h"
#include "closeloop/cli/cli_conf.h"
#include "closeloop/cli/cli_http.h"
#include "closeloop/cli/cli_value.h"

#include <jansson.h>
#include <stdbool.h>
#include <string.h>

#define CC_MAX_NAMES 64 /* distinct option names across every verb */

/* One option name as completion sees it, merged over the verbs that have it. */
struct cc_name {
    const char *name;
    const char *const *choices[4]; /* the value words of each type it takes */
    int nchoices;
    bool flag;                   /* takes no value */
    bool multi;                  /* comma-separated words (statuses) */
    enum cli_complete_kind kind; /* what the service is asked for */
};

/* Where each kind of value is listed, and which field of an item is the value. */
static const struct {
    const char *word;
    const char *path;
    const char *field;
} sources[] = {
    [CLI_COMPLETE_NONE] = {NULL, NULL, NULL},
    [CLI_COMPLETE_HANDLES] = {"handles", "/api/v1/people?limit=500", "handle"},
    [CLI_COMPLETE_TEAMS] = {"teams", "/api/v1/teams?limit=500", "name"},
    [CLI_COMPLETE_INCIDENTS] = {"incidents", "/api/v1/incidents?limit=500", "key"},
    [CLI_COMPLETE_ACTIONS] = {"actions",
                              "/api/v1/actions?status=open,in_progress,blocked&limit=500", "id"},
};

enum cli_complete_kind cli_complete_opt_kind(const struct cli_opt *o)
{
    static const char *const handles[] = {"owner", "facilitator", "manager", "person"};
    size_t i;

    if (o->field == NULL || cli_value_is_flag(o->type))
        return CLI_COMPLETE_NONE;
    for (i = 0; i < CL_ARRAY_LEN(handles); i++) {
        if (strcmp(o->field, handles[i]) == 0)
            return CLI_COMPLETE_HANDLES;
    }
    if (strcmp(o->field, "team") == 0)
        return CLI_COMPLETE_TEAMS;
    if (strcmp(o->field, "incident") == 0)
        return CLI_COMPLETE_INCIDENTS;
    return CLI_COMPLETE_NONE;
}

enum cli_complete_kind cli_complete_pos_kind(const struct cli_verb *v, const struct cli_opt *p)
{
    static const struct {
        const char *coll;
        enum cli_complete_kind kind;
    } colls[] = {{"people", CLI_COMPLETE_HANDLES},
                 {"teams", CLI_COMPLETE_TEAMS},
                 {"incidents", CLI_COMPLETE_INCIDENTS},
                 {"actions", CLI_COMPLETE_ACTIONS}};
    size_t i;

    if (p->dest == CLI_TO_BODY)
        return cli_complete_opt_kind(p);
    for (i = 0; p->dest == CLI_TO_PATH && i < CL_ARRAY_LEN(colls); i++) {
        if (strcmp(v->coll, colls[i].coll) == 0)
            return colls[i].kind;
    }
    return CLI_COMPLETE_NONE;
}

const char *cli_complete_kind_word(enum cli_complete_kind kind)
{
    return sources[kind].word;
}

static const char head_bash[] =
    "# bash completion for closeloop, the closeloop CLI.\n"
    "# Written by `closeloop completion bash` from the CLI's own verb table: do not edit,\n"
    "# run `make completion`. Install: copy to\n"
    "# /usr/share/bash-completion/completions/closeloop, or in ~/.bashrc:\n"
    "#   source <(closeloop completion bash)\n";

static const char head_zsh[] =
    "#compdef closeloop\n"
    "# zsh completion for closeloop, the closeloop CLI.\n"
    "# Written by `closeloop completion zsh` from the CLI's own verb table: do not edit,\n"
    "# run `make completion`. Install: copy as _closeloop into a directory of $fpath\n"
    "# (/usr/share/zsh/vendor-completions), or in ~/.zshrc after compinit:\n"
    "#   source <(closeloop completion zsh)\n";

/* The shell functions both scripts share (plain sh with [[ ]], which bash and zsh run). */
static const char common_tail[] =
    "\n"
    "# Values only the service knows; nothing at all when it cannot answer within a second.\n"
    "_closeloop_fetch() {\n"
    "    \"${_closeloop_cmd:-closeloop}\" __complete \"$1\" \"$2\" 2>/dev/null\n"
    "}\n"
    "\n"
    "# Sets _closeloop_group, _closeloop_verb and _closeloop_npos (positionals so far) from\n"
    "# the words before the cursor: options and their values are skipped.\n"
    "_closeloop_scan() {\n"
    "    _closeloop_group='' _closeloop_verb='' _closeloop_npos=0\n"
    "    local w skip=''\n"
    "    for w in \"$@\"; do\n"
    "        if [[ -n $skip ]]; then\n"
    "            skip=''\n"
    "        elif [[ $w == -* ]]; then\n"
    "            [[ $w == *=* || $_closeloop_flags == *\" $w \"* ]] || skip=1\n"
    "        elif [[ -z $_closeloop_group ]]; then\n"
    "            _closeloop_group=$w\n"
    "        elif [[ -z $_closeloop_verb ]]; then\n"
    "            _closeloop_verb=$w\n"
    "        else\n"
    "            _closeloop_npos=$((_closeloop_npos + 1))\n"
    "        fi\n"
    "    done\n"
    "}\n"
    "\n"
    "# The words that may stand at the cursor: $1 is the word before it, $2 what is typed.\n"
    "_closeloop_candidates() {\n"
    "    if [[ $1 == -* && $1 != *=* && $_closeloop_flags != *\" $1 \"* ]]; then\n"
    "        _closeloop_values \"$1\" \"${2##*,}\"\n"
    "    elif [[ $2 == -* ]]; then\n"
    "        echo \"--url --token --json --help --version\"\n"
    "        # a group that is a command alone (dashboard) has options at once\n"
    "        if [[ -n $_closeloop_verb || ( -n $_closeloop_group &&\n"
    "              -z $(_closeloop_verbs \"$_closeloop_group\") ) ]]; then\n"
    "            _closeloop_opts \"$_closeloop_group\" \"$_closeloop_verb\"\n"
    "        fi\n"
    "    elif [[ -z $_closeloop_group ]]; then\n"
    "        echo \"$_closeloop_groups\"\n"
    "    elif [[ -z $_closeloop_verb ]]; then\n"
    "        _closeloop_verbs \"$_closeloop_group\"\n"
    "    else\n"
    "        _closeloop_args \"$_closeloop_group\" \"$_closeloop_verb\" "
    "$((_closeloop_npos + 1)) \"$2\"\n"
    "    fi\n"
    "}\n";

static const char main_bash[] =
    "\n"
    "_closeloop() {\n"
    "    local cur prev words cword\n"
    "    if declare -F _init_completion >/dev/null 2>&1; then\n"
    "        _init_completion -s || return\n"
    "    else\n"
    "        COMPREPLY=()\n"
    "        cur=${COMP_WORDS[COMP_CWORD]}\n"
    "        prev=${COMP_WORDS[COMP_CWORD - 1]}\n"
    "        words=(\"${COMP_WORDS[@]}\")\n"
    "        cword=$COMP_CWORD\n"
    "    fi\n"
    "    _closeloop_cmd=${words[0]}\n"
    "    _closeloop_scan \"${words[@]:1:cword-1}\"\n"
    "    # a comma-separated list: complete its last item, keep the ones before\n"
    "    local done_part=''\n"
    "    [[ $_closeloop_lists == *\" $prev \"* ]] && done_part=${cur%\"${cur##*,}\"}\n"
    "    mapfile -t COMPREPLY < <(compgen -P \"$done_part\" \\\n"
    "        -W \"$(_closeloop_candidates \"$prev\" \"$cur\")\" -- \"${cur#\"$done_part\"}\")\n"
    "}\n"
    "\n"
    "complete -F _closeloop closeloop\n";

static const char main_zsh[] =
    "\n"
    "_closeloop() {\n"
    "    local prev=${words[CURRENT-1]}\n"
    "    local -a cands\n"
    "    _closeloop_cmd=${words[1]}\n"
    "    _closeloop_scan \"${(@)words[2,CURRENT-1]}\"\n"
    "    if [[ $_closeloop_lists == *\" $prev \"* ]]; then\n"
    "        compset -P '*,' # a comma-separated list: complete its last item\n"
    "        cands=($(_closeloop_candidates \"$prev\" \"$PREFIX\"))\n"
    "        compadd -S ',' -q -- $cands\n"
    "    else\n"
    "        cands=($(_closeloop_candidates \"$prev\" \"$PREFIX\"))\n"
    "        compadd -- $cands\n"
    "    fi\n"
    "}\n"
    "\n"
    "if [[ ${funcstack[1]} == _closeloop ]]; then\n"
    "    _closeloop \"$@\" # autoloaded from $fpath\n"
    "else\n"
    "    compdef _closeloop closeloop # sourced\n"
    "fi\n";

/* Whether verbs[i]'s group appeared earlier in the table. */
static bool cc_group_seen(const struct cli_verb *verbs, size_t i)
{
    size_t j;

    for (j = 0; j < i; j++) {
        if (strcmp(verbs[j].group, verbs[i].group) == 0)
            return true;
    }
    return false;
}

/* Every group, space-separated. */
static void cc_group_words(FILE *out, const struct cli_verb *verbs, size_t n)
{
    const char *sep = "";
    size_t i;

    for (i = 0; i < n; i++) {
        if (!cc_group_seen(verbs, i)) {
            fprintf(out, "%s%s", sep, verbs[i].group);
            sep = " ";
        }
    }
}

static void cc_verbs(FILE *out, const struct cli_verb *verbs, size_t n)
{
    size_t i;
    size_t j;
    const char *sep;

    fputs("\n_closeloop_verbs() {\n    case $1 in\n", out);
    for (i = 0; i < n; i++) {
        if (cc_group_seen(verbs, i))
            continue;
        fprintf(out, "    %s) echo \"", verbs[i].group);
        sep = "";
        for (j = i; j < n; j++) {
            if (strcmp(verbs[j].group, verbs[i].group) == 0) {
                fprintf(out, "%s%s", sep, verbs[j].name);
                sep = " ";
            }
        }
        fputs("\" ;;\n", out);
    }
    fputs("    completion) echo \"bash zsh\" ;;\n    help) echo \"", out);
    cc_group_words(out, verbs, n);
    fputs(" completion\" ;;\n    esac\n}\n", out);
    fputs("\n_closeloop_groups=\"", out);
    cc_group_words(out, verbs, n);
    fputs(" help completion\"\n", out);
}

static void cc_opts(FILE *out, const struct cli_verb *verbs, size_t n)
{
    size_t i;
    size_t j;

    fputs("\n_closeloop_opts() {\n    case \"$1 $2\" in\n", out);
    for (i = 0; i < n; i++) {
        if (cli_verbs_count(verbs[i].opts) == 0)
            continue;
        fprintf(out, "    \"%s %s\") echo \"", verbs[i].group, verbs[i].name);
        for (j = 0; j < cli_verbs_count(verbs[i].opts); j++)
            fprintf(out, "%s--%s", j > 0 ? " " : "", verbs[i].opts[j].name);
        fputs("\" ;;\n", out);
    }
    fputs("    esac\n}\n", out);
}

static struct cc_name *cc_find(struct cc_name *names, size_t *count, const char *name)
{
    size_t i;

    for (i = 0; i < *count; i++) {
        if (strcmp(names[i].name, name) == 0)
            return &names[i];
    }
    if (*count == CC_MAX_NAMES)
        return NULL;
    memset(&names[*count], 0, sizeof(names[0]));
    names[*count].name = name;
    return &names[(*count)++];
}

static void cc_add(struct cc_name *nm, const struct cli_opt *o)
{
    const char *const *words = cli_value_choices(o->type);
    int i;

    nm->flag = nm->flag || cli_value_is_flag(o->type);
    nm->multi = nm->multi || o->type == CLI_VAL_STATUSES;
    if (nm->kind == CLI_COMPLETE_NONE)
        nm->kind = cli_complete_opt_kind(o);
    if (words == NULL)
        return;
    for (i = 0; i < nm->nchoices; i++) {
        if (nm->choices[i] == words)
            return;
    }
    if (nm->nchoices < (int)CL_ARRAY_LEN(nm->choices))
        nm->choices[nm->nchoices++] = words;
}

/* Every option name of the table, merged; returns how many. */
static size_t cc_names(struct cc_name *names, const struct cli_verb *verbs, size_t n)
{
    size_t count = 0;
    size_t i;
    size_t j;
    struct cc_name *nm;

    for (i = 0; i < n; i++) {
        for (j = 0; j < cli_verbs_count(verbs[i].opts); j++) {
            nm = cc_find(names, &count, verbs[i].opts[j].name);
            if (nm != NULL)
                cc_add(nm, &verbs[i].opts[j]);
        }
    }
    return count;
}

/* The value words of nm, each once, space-separated. */
static void cc_words(FILE *out, const struct cc_name *nm)
{
    const char *seen[32];
    size_t nseen = 0;
    size_t k;
    int i;
    const char *const *w;

    for (i = 0; i < nm->nchoices; i++) {
        for (w = nm->choices[i]; *w != NULL; w++) {
            for (k = 0; k < nseen && strcmp(seen[k], *w) != 0; k++)
                ;
            if (k < nseen || nseen == CL_ARRAY_LEN(seen))
                continue;
            fprintf(out, "%s%s", nseen > 0 ? " " : "", *w);
            seen[nseen++] = *w;
        }
    }
}

/* The lists of flags and of comma-separated options, then _closeloop_values. */
static void cc_values(FILE *out, const struct cc_name *names, size_t count)
{
    size_t i;

    fputs("\n# Options that take no value; every other --option takes the next word.\n"
          "_closeloop_flags=\" --json --help -h --version",
          out);
    for (i = 0; i < count; i++) {
        if (names[i].flag)
            fprintf(out, " --%s", names[i].name);
    }
    fputs(" \"\n# Options whose value is a comma-separated list.\n_closeloop_lists=\"", out);
    for (i = 0; i < count; i++) {
        if (names[i].multi)
            fprintf(out, " --%s", names[i].name);
    }
    fputs(" \"\n\n# Words for the value of option $1; $2 is what is typed of it.\n"
          "_closeloop_values() {\n    case $1 in\n",
          out);
    for (i = 0; i < count; i++) {
        if (names[i].kind != CLI_COMPLETE_NONE) {
            fprintf(out, "    --%s) _closeloop_fetch %s \"$2\" ;;\n", names[i].name,
                    cli_complete_kind_word(names[i].kind));
        } else if (!names[i].flag && names[i].nchoices > 0) {
            fprintf(out, "    --%s) echo \"", names[i].name);
            cc_words(out, &names[i]);
            fputs("\" ;;\n", out);
        }
    }
    fputs("    esac\n}\n", out);
}

/* _closeloop_args: the positionals whose values the service knows. */
static void cc_args(FILE *out, const struct cli_verb *verbs, size_t n)
{
    enum cli_complete_kind kind;
    size_t i;
    size_t j;

    fputs("\n# Words for positional $3 (from 1) of verb \"$1 $2\"; $4 is what is typed of it.\n"
          "_closeloop_args() {\n    case \"$1 $2 $3\" in\n"
          "    \"help \"*\" 1\") _closeloop_verbs \"$2\" ;;\n",
          out);
    for (i = 0; i < n; i++) {
        for (j = 0; j < cli_verbs_count(verbs[i].pos); j++) {
            kind = cli_complete_pos_kind(&verbs[i], &verbs[i].pos[j]);
            if (kind != CLI_COMPLETE_NONE)
                fprintf(out, "    \"%s %s %zu\") _closeloop_fetch %s \"$4\" ;;\n", verbs[i].group,
                        verbs[i].name, j + 1, cli_complete_kind_word(kind));
        }
    }
    fputs("    esac\n}\n", out);
}

/* Everything but the head and the shell's own main function. */
static void cc_common(FILE *out, const struct cli_verb *verbs, size_t n)
{
    struct cc_name names[CC_MAX_NAMES];
    size_t count = cc_names(names, verbs, n);

    cc_verbs(out, verbs, n);
    cc_opts(out, verbs, n);
    cc_values(out, names, count);
    cc_args(out, verbs, n);
    fputs(common_tail, out);
}

void cli_complete_bash(FILE *out, const struct cli_verb *verbs, size_t n)
{
    fputs(head_bash, out);
    cc_common(out, verbs, n);
    fputs(main_bash, out);
}

void cli_complete_zsh(FILE *out, const struct cli_verb *verbs, size_t n)
{
    fputs(head_zsh, out);
    cc_common(out, verbs, n);
    fputs(main_zsh, out);
}

/* Writes the value of each item that starts with prefix, one a line. */
static void print_matches(FILE *out, const json_t *items, const char *field, const char *prefix)
{
    size_t plen = strlen(prefix);
    const json_t *item;
    const json_t *v;
    char num[32];
    const char *s;
    size_t i;

    json_array_foreach (items, i, item) {
        v = json_object_get(item, field);
        s = json_string_value(v);
        if (json_is_integer(v)) {
            snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            s = num;
        }
        if (s != NULL && strncmp(s, prefix, plen) == 0 && strpbrk(s, "\n\r") == NULL)
            fprintf(out, "%s\n", s);
    }
}

int cli_complete_fetch(FILE *out, const char *word, const char *prefix)
{
    struct cli_conf conf = {NULL, NULL, ""};
    struct cl_err err = CL_ERR_INIT; /* never shown: completion stays silent */
    struct cli_http *http = NULL;
    json_t *page = NULL;
    const json_t *items;
    long status = 0;
    size_t k;
    int rc = CL_EINVAL;

    for (k = 1; k < CL_ARRAY_LEN(sources) && strcmp(sources[k].word, word) != 0; k++)
        ;
    if (k == CL_ARRAY_LEN(sources) || cli_conf_resolve(&conf, NULL, NULL, &err) != CL_OK ||
        conf.token == NULL)
        goto cleanup;
    http = cli_http_new(conf.url, conf.token);
    rc = CL_EHTTP;
    if (http == NULL)
        goto cleanup;
    cli_http_set_timeout(http, CLI_COMPLETE_TIMEOUT_S);
    rc = cli_api_call(&page, &status, http, "GET", sources[k].path, NULL, NULL, &err);
    items = json_is_array(page) ? page : json_object_get(page, "items");
    if (rc == CL_OK && !json_is_array(items))
        rc = CL_EHTTP;
    if (rc == CL_OK)
        print_matches(out, items, sources[k].field, prefix);
cleanup:
    json_decref(page);
    cli_http_free(http);
    cli_conf_dispose(&conf);
    return rc;
}
