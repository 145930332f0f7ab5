/* Strings for lq_err_t, generated from the one list in err.h. Pure module. */
#include "liqolet/err.h"

static const char *const err_text[] = {
#define LQ_ERR_TEXT_(name, text) text,
    LQ_ERR_LIST(LQ_ERR_TEXT_)
#undef LQ_ERR_TEXT_
};

static const char *const err_names[] = {
#define LQ_ERR_NAME_(name, text) #name,
    LQ_ERR_LIST(LQ_ERR_NAME_)
#undef LQ_ERR_NAME_
};

const char *lq_err_str(lq_err_t err)
{
    if ((unsigned)err >= (unsigned)LQ_ERR_COUNT_)
        return "unknown error";
    return err_text[err];
}

const char *lq_err_name(lq_err_t err)
{
    if ((unsigned)err >= (unsigned)LQ_ERR_COUNT_)
        return "LQ_E?";
    return err_names[err];
}
