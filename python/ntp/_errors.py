#===- _errors.py - ntp.Error and the status checks -------------------------===#
#
# ntp.Error, raised for every failed call: _check turns a C call's
# ntp_status into it (with ntp_last_error()), _fail raises the bindings' own
# sentence.
#
#===----------------------------------------------------------------------===#
from . import _capi
from ._capi import ERROR_INVALID_ARGUMENT


class Error(RuntimeError):
    """A failed ntp call: `status` is the ntp_status (ntp.ERROR_*) and
    `message` the one-sentence ntp_last_error() (or the binding's own
    sentence for a bad argument, with status ERROR_INVALID_ARGUMENT)."""

    def __init__(self, status, message):
        self.status = int(status)
        self.message = message
        super().__init__("%s (%s)" % (
            message, _capi.STATUS_NAMES.get(self.status, "status %d" % status)))


def _fail(message, status=ERROR_INVALID_ARGUMENT):
    raise Error(status, message)


def _check(status):
    if status != 0:
        msg = _capi.runtime().ntp_last_error()
        raise Error(status, msg.decode(errors="replace") if msg else
                    "ntp call failed without a message")
