"""Requests and responses of the feed (camelCase on the wire, ids as strings).

Feed pages are built as JSON by PostgreSQL (queries.py) in exactly the shape of `FeedPage`; these Structs
document that shape in the OpenAPI contract and the tests decode every page with them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from service.core.media import (
    IMAGE_URLS_REMOVED,
    IMAGES_MAX,
    AvatarLink,
    CoverLink,
    EarlierImageUrls,
    Image,
    ImageIds,
)
from service.core.paging import NextCursor

POST_TEXT_MAX = 2000  # msg_sec_check takes up to 2,500 characters
COMMENT_TEXT_MAX = 500
FIRST_COMMENTS = 3  # comments shown with each feed item
FEED_LIMIT_MAX = 50  # the largest page of posts
FEED_LIMIT_DEFAULT = 20
EDIT_WINDOW_DEFAULT = 900

PostStatus = Literal["visible", "pending", "rejected"]
LinkKind = Literal["product", "poll"]
ShareTarget = Literal["chat", "group", "moments", "favorite", "other"]
FeedOrder = Literal["latest", "hot"]
FEED_ORDER_DEFAULT: FeedOrder = "latest"

IdString = Annotated[str, Meta(pattern=r"^[1-9][0-9]{0,15}$(?!\n)", examples=["42"], description="An id")]
PostText = Annotated[
    str,
    Meta(
        max_length=POST_TEXT_MAX, examples=["周六早上七点，滨江步道集合跑 10 公里"], description="Up to 2000 characters"
    ),
]
CommentText = Annotated[
    str, Meta(min_length=1, max_length=COMMENT_TEXT_MAX, examples=["算我一个！"], description="1-500 characters")
]


MENTIONS_SENT_MAX = 100  # the decoder's bound; MAX_MENTIONS (a setting, 10) is the rule
MentionIds = Annotated[
    list[IdString],
    Meta(
        max_length=MENTIONS_SENT_MAX,
        description="User ids of members of this community to mention (at most MAX_MENTIONS, 10): they are told in "
        "their inbox. Duplicates count once, yourself not at all. A member who blocked you cannot be mentioned.",
    ),
]


class Mention(msgspec.Struct, rename="camel", kw_only=True):
    """A mentioned member, for the client to render @nickname."""

    user_id: str
    nickname: str


class Link(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    """What a post links to: a product of the community's shop or one of its polls."""

    kind: LinkKind
    id: IdString


class PostCreate(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    removed_fields: ClassVar[dict[str, str]] = IMAGE_URLS_REMOVED

    text: PostText = ""
    image_ids: ImageIds = []
    link: Link | None = None
    mentions: MentionIds = []


class PostUpdate(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    """Only the fields sent change; `link: null` removes the link, `imageIds: []` the photos. Allowed within the
    edit window."""

    removed_fields: ClassVar[dict[str, str]] = IMAGE_URLS_REMOVED

    text: PostText | UnsetType = UNSET
    image_ids: (
        Annotated[
            ImageIds,
            Meta(
                description=f"The post's photos from now on, in order (up to {IMAGES_MAX} of your uploads): new ones "
                "hold the post again until WeChat's image check passed them"
            ),
        ]
        | UnsetType
    ) = UNSET
    link: Link | None | UnsetType = UNSET
    mentions: (
        Annotated[MentionIds, Meta(description="The mentions from now on: only the newly mentioned are told")]
        | UnsetType
    ) = UNSET


class CommentCreate(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    text: CommentText
    parent_id: (
        Annotated[
            str,
            Meta(
                pattern=r"^[1-9][0-9]{0,15}$(?!\n)",
                description="Reply to this comment. Replies are one level deep: replying to a reply joins its thread.",
            ),
        ]
        | None
    ) = None
    image_id: (
        Annotated[
            IdString,
            Meta(description="One of your uploads (POST /v1/media): the comment shows to others once WeChat passed it"),
        ]
        | None
    ) = None
    mentions: MentionIds = []


class ShareCreate(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    target: Annotated[
        ShareTarget,
        Meta(description="Where it was shared: a chat, a WeChat group, Moments, favourites, or elsewhere"),
    ]


class Author(msgspec.Struct, rename="camel", kw_only=True):
    id: Annotated[str | None, Meta(description="The member's user id; null for a robot")]
    nickname: str
    avatar_url: AvatarLink


class Comment(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    post_id: str
    parent_id: Annotated[str | None, Meta(description="The thread (top-level comment) of a reply")]
    reply_to_id: Annotated[str | None, Meta(description="The comment this one answers")]
    author: Author
    robot: Annotated[
        str | None,
        Meta(examples=[None, "keyword"], description="The robot that wrote it (e.g. `keyword`), null for members"),
    ]
    text: str
    image: Annotated[Image | None, Meta(description="Its photo, with signed URLs that expire in an hour")]
    status: PostStatus
    reply_count: int
    created_at: datetime
    mentions: list[Mention]


class CommentWithReplies(Comment, kw_only=True):
    replies: Annotated[list[Comment], Meta(description=f"The first {FIRST_COMMENTS} replies of a thread")] = []


class CommentPage(msgspec.Struct, rename="camel"):
    items: list[CommentWithReplies]
    next_cursor: NextCursor


class FeedItem(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    community_id: str
    kind: Annotated[str, Meta(examples=["post"], description="post, introduction, welcome (robot), digest (robot)")]
    author: Author
    robot: Annotated[
        str | None, Meta(examples=[None, "welcome"], description="The robot that wrote it, null for members")
    ]
    text: str
    images: Annotated[list[Image], Meta(description="Uploaded photos, with signed URLs that expire in an hour")]
    image_urls: EarlierImageUrls
    link: Link | None
    status: Annotated[PostStatus, Meta(description="Others only ever see `visible`; you also see your own pending")]
    like_count: int
    comment_count: Annotated[int, Meta(description="Visible comments and replies by members")]
    share_count: Annotated[int, Meta(description="Members who shared it (a member's shares count once)")]
    view_count: int
    liked_by_me: bool
    essence: bool
    essence_at: datetime | None
    created_at: datetime
    edited_at: datetime | None
    pinned: Annotated[bool, Meta(description="Pinned by an admin: the feed's first page starts with these")]
    first_comments: Annotated[
        list[Comment], Meta(description=f"The first {FIRST_COMMENTS} visible top-level comments, oldest first")
    ]
    mentions: list[Mention]


class FeedPage(msgspec.Struct, rename="camel"):
    items: list[FeedItem]
    next_cursor: NextCursor


class LikeState(msgspec.Struct, rename="camel", kw_only=True):
    post_id: str
    liked: bool
    like_count: int


ShareCode = Annotated[
    str,
    Meta(
        pattern=r"^[A-Za-z0-9_-]{8,32}$(?!\n)",
        examples=["Xq3V9xk2LmP0"],
        description="A share's code: its link opens the public preview (GET /v1/shares/{code}); joining with "
        "`shareCode` credits the sharer",
    ),
]


class Share(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    code: ShareCode
    post_id: str
    target: ShareTarget
    share_count: Annotated[int, Meta(description="Members who shared the post (a member's shares count once)")]
    created_at: datetime


class EssenceState(msgspec.Struct, rename="camel", kw_only=True):
    post_id: str
    essence: bool
    essence_at: datetime | None


class SearchHit(msgspec.Struct, rename="camel", kw_only=True):
    kind: Annotated[Literal["post", "comment"], Meta(description="What matched: a post, or a comment on `postId`")]
    id: Annotated[str, Meta(description="The post's or the comment's id")]
    post_id: Annotated[str, Meta(description="The post to open (the comment's post for a comment)")]
    author: Author
    snippet: Annotated[
        str,
        Meta(
            examples=["…今天早上去跑步了，沿着江边跑了五公里"],
            description="Up to 60 characters of the text around the first match; … where it was cut",
        ),
    ]
    highlights: Annotated[
        list[Annotated[list[int], Meta(min_length=2, max_length=2)]],
        Meta(
            examples=[[[7, 9]]],
            description="The matched words in `snippet` as [start, end) offsets in UTF-16 code units, as "
            "JavaScript's `snippet.slice(start, end)` reads them (render them bold); no markup is in the snippet",
        ),
    ]
    created_at: datetime


class SearchPage(msgspec.Struct, rename="camel"):
    items: Annotated[list[SearchHit], Meta(description="Best matches first")]
    next_cursor: NextCursor


class PinCreate(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    post_id: IdString


class Pin(msgspec.Struct, rename="camel", kw_only=True):
    post_id: Annotated[str, Meta(examples=["42"])]
    pinned_by: Annotated[str, Meta(examples=["7"], description="The admin who pinned it")]
    pinned_at: datetime


class Pins(msgspec.Struct, rename="camel"):
    items: Annotated[list[Pin], Meta(description="In the order pinned, the feed's order (at most 3)")]


EXCERPT_MAX = 140  # characters of a post (and of a community's description) a preview shows


class PreviewPost(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    excerpt: Annotated[
        str, Meta(examples=["周六早上七点，公园门口集合"], description=f"The post's first {EXCERPT_MAX} characters")
    ]
    truncated: Annotated[bool, Meta(description="The post is longer than the excerpt")]
    image_count: int
    like_count: int
    comment_count: int
    author_nickname: Annotated[
        str, Meta(examples=["小林"], description="The author's nickname; a robot's posts show the community's")
    ]
    created_at: datetime


class CommunityCard(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    name: str
    description: Annotated[str, Meta(description=f"The first {EXCERPT_MAX} characters of its description")]
    cover_url: CoverLink
    member_count: int
    member_cap: int
    entry_mode: Literal["free", "approval", "paid"]
    price_fen: Annotated[int | None, Meta(description="Paid entry: the price in fen")]


class HowToJoin(msgspec.Struct, rename="camel", kw_only=True):
    outcome: Annotated[
        Literal["join", "request", "pay", "full"],
        Meta(
            description="`join`: POST /v1/communities/{id}/join admits at once; `request`: it sends a request to "
            "the admins; `pay`: it answers an order to pay; `full`: no place is left (never for a community of a "
            "series: a join to a full sister admits to another)"
        ),
    ]
    share_code: Annotated[
        str, Meta(examples=["Xq3V9xk2LmP0"], description="Send it as `shareCode` when joining: the sharer is credited")
    ]


class SharePreview(msgspec.Struct, rename="camel", kw_only=True):
    code: ShareCode
    sharer_nickname: Annotated[str, Meta(examples=["阿杰"])]
    post: PreviewPost
    community: CommunityCard
    join: HowToJoin


# wx.getShareInfo's answer as the client got it: standard base64 (AES-128-CBC blocks, a 16-byte iv).
OPEN_DATA_MAX = 4096
_BASE64 = r"^(?:[A-Za-z0-9+/]{4})+(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$(?!\n)"


class GroupOpenCreate(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    encrypted_data: Annotated[
        str,
        Meta(
            min_length=24,
            max_length=OPEN_DATA_MAX,
            pattern=_BASE64,
            examples=[
                "zsh3hUq/2owAkZydTQzDVnPPxidVbkRuJnNq81tkg0TPeivZIX9Pcu9Xbh41SYw+DUF4o8UHgFBr3Ab6kpH8WTpkgUCYqp3kzUrVK03rce"
                "UimOUeElmtABusrXuacpSvvhXFl0nsgzI2wnRs7UbbN3lOHD1ObhEftmhkavI+yII="
            ],
            description="`encryptedData` of wx.getShareInfo({shareTicket}) (base64), the ticket from the launch "
            "options of the mini program opened from a group chat's card",
        ),
    ]
    iv: Annotated[
        str,
        Meta(
            pattern=r"^[A-Za-z0-9+/]{22}==$(?!\n)",
            examples=["ZXhhbXBsZS1pdi0xNmJ5dA=="],
            description="`iv` of wx.getShareInfo (base64, 16 bytes)",
        ),
    ]


class GroupOpen(msgspec.Struct, rename="camel", kw_only=True):
    share_code: ShareCode
    first_open: Annotated[bool, Meta(description="True when this open is the first of this share in this group")]
    opens: Annotated[int, Meta(description="Opens of this share recorded in this group, this one included")]
    first_opened_at: datetime


class ShareReachItem(msgspec.Struct, rename="camel", kw_only=True):
    code: ShareCode
    post_id: str
    sharer_id: str
    sharer_nickname: Annotated[str, Meta(examples=["阿杰"])]
    groups_reached: Annotated[int, Meta(description="Distinct WeChat groups the share was opened in")]
    opens: Annotated[int, Meta(description="Opens recorded in those groups")]
    first_opened_at: datetime
    last_opened_at: datetime


class ShareReach(msgspec.Struct, rename="camel", kw_only=True):
    community_id: str
    groups_reached: Annotated[int, Meta(description="Distinct WeChat groups any of the community's shares reached")]
    opens: Annotated[int, Meta(description="Group opens recorded over all the community's shares")]
    shares_opened: Annotated[int, Meta(description="Shares opened in at least one group")]
    items: Annotated[list[ShareReachItem], Meta(description="The shares that reached the most groups first")]
