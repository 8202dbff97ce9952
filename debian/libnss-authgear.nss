# authgear right after files: local accounts always win (README, nsswitch.conf).
# The group line's [SUCCESS=merge] action belongs to files, before authgear,
# which this syntax cannot express: postinst and postrm add and remove it.
passwd after=files authgear
group  after=files authgear
