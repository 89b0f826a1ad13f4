#include "closeloop/cli/cli_complete.h"

#include "closeloop/cli/cli_value.h"

#include <stdbool.h>
#include <string.h>

#define CC_MAX_NAMES 64 /* distinct option names across every verb */

/* One option name as completion sees it, merged over the verbs that have it. */
struct cc_name {
    const char *name;
    const char *const *choices[4]; /* the value words of each type it takes */
    int nchoices;
    bool flag;  /* takes no value */
    bool multi; /* comma-separated words (statuses) */
};

static const char head[] =
    "# bash completion for closeloop, the closeloop CLI.\n"
    "# Written by `closeloop completion bash` from the CLI's own verb table: do not edit,\n"
    "# run `make completion`. Install: copy to\n"
    "# /usr/share/bash-completion/completions/closeloop, or in ~/.bashrc:\n"
    "#   source <(closeloop completion bash)\n";

static const char body_head[] = "_closeloop() {\n"
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
                                "\n"
                                "    local global=\"--url --token --json --help --version\"\n";

static const char body_words[] =
    "    --*)\n"
    "        [[ $flags == *\" $prev \"* ]] || return 0 # a value nobody can guess\n"
    "        ;;\n"
    "    esac\n"
    "\n"
    "    # The group and verb are the first two words that are neither options nor values.\n"
    "    local group='' verb='' i w\n"
    "    for ((i = 1; i < cword; i++)); do\n"
    "        w=${words[i]}\n"
    "        if [[ $w == -* ]]; then\n"
    "            [[ $w == *=* || $flags == *\" $w \"* ]] || ((i++))\n"
    "            continue\n"
    "        fi\n"
    "        if [[ -z $group ]]; then\n"
    "            group=$w\n"
    "        elif [[ -z $verb ]]; then\n"
    "            verb=$w\n"
    "        fi\n"
    "    done\n"
    "\n"
    "    if [[ $cur == -* ]]; then\n"
    "        local opts=$global\n"
    "        # a group that is a command alone (dashboard) has options at once\n"
    "        [[ -n $verb || ( -n $group && -z $(_closeloop_verbs \"$group\") ) ]] &&\n"
    "            opts=\"$(_closeloop_opts \"$group\" \"$verb\") $global\"\n"
    "        mapfile -t COMPREPLY < <(compgen -W \"$opts\" -- \"$cur\")\n";

static const char body_tail[] =
    "    elif [[ -z $verb ]]; then\n"
    "        mapfile -t COMPREPLY < <(compgen -W \"$(_closeloop_verbs \"$group\")\" -- \"$cur\")\n"
    "    fi\n"
    "}\n"
    "\n"
    "complete -F _closeloop closeloop\n";

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
    fputs("    completion) echo \"bash\" ;;\n    esac\n}\n", out);
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

static void cc_add(struct cc_name *nm, enum cli_val type)
{
    const char *const *words = cli_value_choices(type);
    int i;

    nm->flag = nm->flag || cli_value_is_flag(type);
    nm->multi = nm->multi || type == CLI_VAL_STATUSES;
    if (words == NULL)
        return;
    for (i = 0; i < nm->nchoices; i++) {
        if (nm->choices[i] == words)
            return;
    }
    if (nm->nchoices < (int)(sizeof(nm->choices) / sizeof(nm->choices[0])))
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
                cc_add(nm, verbs[i].opts[j].type);
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
            if (k < nseen || nseen == sizeof(seen) / sizeof(seen[0]))
                continue;
            fprintf(out, "%s%s", nseen > 0 ? " " : "", *w);
            seen[nseen++] = *w;
        }
    }
}

static void cc_value_arm(FILE *out, const struct cc_name *nm)
{
    if (nm->multi) {
        fprintf(out,
                "    --%s) # comma-separated: complete the last item, keep the ones before\n"
                "        local done_part=${cur%%\"${cur##*,}\"}\n"
                "        mapfile -t COMPREPLY < <(compgen -P \"$done_part\" -W \"",
                nm->name);
        cc_words(out, nm);
        fputs("\" -- \"${cur##*,}\")\n        return ;;\n", out);
        return;
    }
    fprintf(out, "    --%s) mapfile -t COMPREPLY < <(compgen -W \"", nm->name);
    cc_words(out, nm);
    fputs("\" -- \"$cur\"); return ;;\n", out);
}

static void cc_values(FILE *out, const struct cc_name *names, size_t count)
{
    size_t i;

    fputs("    # Options that take no value; every other --option takes the next word.\n"
          "    local flags=\" --json --help -h --version",
          out);
    for (i = 0; i < count; i++) {
        if (names[i].flag)
            fprintf(out, " --%s", names[i].name);
    }
    fputs(" \"\n\n    # Values for the option just typed.\n    case $prev in\n", out);
    for (i = 0; i < count; i++) {
        if (!names[i].flag && names[i].nchoices > 0)
            cc_value_arm(out, &names[i]);
    }
}

static void cc_groups(FILE *out, const struct cli_verb *verbs, size_t n)
{
    size_t i;
    const char *sep = "";

    fputs("    elif [[ -z $group ]]; then\n        mapfile -t COMPREPLY < <(compgen -W \"", out);
    for (i = 0; i < n; i++) {
        if (!cc_group_seen(verbs, i)) {
            fprintf(out, "%s%s", sep, verbs[i].group);
            sep = " ";
        }
    }
    fputs(" completion\" -- \"$cur\")\n", out);
}

void cli_complete_bash(FILE *out, const struct cli_verb *verbs, size_t n)
{
    struct cc_name names[CC_MAX_NAMES];
    size_t count = cc_names(names, verbs, n);

    fputs(head, out);
    cc_verbs(out, verbs, n);
    cc_opts(out, verbs, n);
    fputc('\n', out);
    fputs(body_head, out);
    cc_values(out, names, count);
    fputs(body_words, out);
    cc_groups(out, verbs, n);
    fputs(body_tail, out);
}
