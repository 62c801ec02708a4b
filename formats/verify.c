/*
 * verify.c - integrity checks a format can offer beyond "every header and offset is valid":
 * the CRC-32 recorded for each member of a zip container (PyTorch checkpoints, .npz, .zip).
 */
#include "tc_impl.h"
#include "zip.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

tc_status tc_verify_zip_crc(const char *path, uint64_t *n_checked, tc_err *e)
{
    uint8_t head[4];
    ssize_t got = 0;
    *n_checked = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tc_err_sys(e, TC_E_IO, errno, "%s: cannot open", path);
    do
        got = pread(fd, head, sizeof head, 0);
    while (got < 0 && errno == EINTR);
    close(fd);
    if (got < 0)
        return tc_err_sys(e, TC_E_IO, errno, "%s: cannot read", path);
    if (!tc_zip_sniff(head, (size_t)got))
        return TC_OK; /* not a zip: nothing to check */
    tc_map *m;
    TC_TRY(tc_map_open(path, &m, e));
    tc_zip *z;
    tc_status rc = tc_zip_open(m, &z, e);
    tc_map_unref(m); /* the zip holds its own reference */
    if (rc != TC_OK)
        return rc;
    for (size_t i = 0; i < tc_zip_count(z) && rc == TC_OK; i++) {
        rc = tc_zip_check_crc(z, tc_zip_at(z, i), e);
        if (rc == TC_OK)
            ++*n_checked;
    }
    tc_zip_free(z);
    return rc;
}
