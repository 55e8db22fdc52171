"""Simplified Chinese for the API's own messages: English template → 简体中文.

Keys are the templates ``python scripts/i18n_templates.py`` prints (``{name}`` placeholders as it
names them); each value keeps the same placeholders. Where One API answers the same thing, the
value is One API's exact Chinese text (operators' scripts match on it); where One API answers in
English (OpenAI-style relay errors, the OAuth ``state`` check), the English is kept verbatim.

Order matters for templates with the same literal prefix: :class:`services.i18n.Catalog` tries
them in dict order, so the last section (templates that begin with a placeholder) lists the most
specific first, and a longer template comes before a shorter one it begins with.
"""

MESSAGES: dict[str, str] = {
    # -- Authentication, sessions and permissions (One API's wording where it has one)
    "Not logged in and no access token provided": "无权进行此操作，未登录且未提供 access token",
    "Invalid access token": "无权进行此操作，access token 无效",
    "You do not have permission for this operation": "无权进行此操作，权限不足",
    "This user is disabled": "用户已被封禁",
    "This user has been banned": "用户已被封禁",
    "This account has been deleted": "该账户已被删除",
    "Cross-site request refused": "已拒绝跨站请求",
    "Cross-site request refused: open this page from the console itself": "已拒绝跨站请求：请在控制台页面中进行此操作",
    "Password login is disabled by the administrator": "管理员关闭了密码登录",
    "The administrator has closed registration": "管理员关闭了新用户注册",
    "The administrator has closed registration with a password: sign up with a third-party account":
        "管理员关闭了通过密码进行注册，请使用第三方账户验证的形式进行注册",
    "The administrator restricts email domains and yours is not on the whitelist":
        "管理员启用了邮箱域名白名单，您的邮箱地址的域名不在白名单中",
    "Email verification is on: enter your email address and the verification code": "管理员开启了邮箱验证，请输入邮箱地址和验证码",
    "The verification code is wrong or has expired": "验证码错误或已过期",
    "That username is already taken": "用户名已存在",
    "That email address is already in use": "邮箱地址已被占用",
    "No account uses this email address": "该邮箱地址未注册",
    "Too many emails to this address: try again in a few minutes": "向该邮箱发送的邮件过多，请几分钟后再试",
    "Password reset is unavailable: the administrator has not set ServerAddress":
        "无法重置密码：管理员未设置 ServerAddress",
    "The reset link is invalid or has expired": "重置链接非法或已过期",
    "Could not create the account, try again": "无法创建账户，请重试",
    "email is required": "email 不能为空",
    "email must be at most 50 characters long": "email 最多 50 个字符",
    "email is not a valid email address": "email 不是有效的邮箱地址",
    "username must not contain spaces or @": "username 不能包含空格或 @",
    "The Turnstile token is empty: complete the human check first": "Turnstile token 为空，请先完成人机验证",
    "The Turnstile check failed: refresh the page and try again": "Turnstile 校验失败，请刷新重试！",
    "state is empty or not same": "state is empty or not same",
    "The administrator has not enabled {self_provider} login and registration":
        "管理员未开启通过 {self_provider} 登录以及注册",
    "The administrator has not enabled WeChat login and registration": "管理员未开启通过微信登录以及注册",
    "This {self_provider} account is already bound to another user": "该 {self_provider} 账户已被绑定",
    "Could not reach {what}, try again later": "无法连接至 {what}，请稍后重试",
    "GitHub refused the code: {why}": "GitHub 拒绝了授权码：{why}",
    "GitHub returned no access token": "GitHub 未返回 access token",
    "GitHub returned no user: try again later": "返回值非法，用户字段为空，请稍后重试！",
    "Lark refused the code: {why}": "飞书拒绝了授权码：{why}",
    "Lark returned no access token": "飞书未返回 access token",
    "Lark returned no user: try again later": "飞书未返回用户信息，请稍后重试",
    "OIDC is not configured: set OidcWellKnown or the token and userinfo endpoints":
        "OIDC 未配置：请设置 OidcWellKnown，或设置 token 与 userinfo 端点",
    "The OIDC discovery document could not be read": "无法读取 OIDC 发现文档",
    "The OIDC provider refused the code: {why}": "OIDC 服务拒绝了授权码：{why}",
    "The OIDC provider returned no access token": "OIDC 服务未返回 access token",
    "The OIDC provider returned no user: try again later": "OIDC 服务未返回用户信息，请稍后重试",
    "WeChat login is not configured: the administrator has to set WeChatServerAddress":
        "微信登录未配置：管理员需要设置 WeChatServerAddress",
    "The WeChat server sent an invalid answer": "微信服务器返回了无效的响应",

    # -- Users
    "User not found": "用户不存在",
    "User {uid} not found": "用户 {uid} 不存在",
    "username is required": "username 不能为空",
    "username must not contain spaces or control characters": "username 不能包含空格或控制字符",
    "password must not contain NUL characters": "password 不能包含 NUL 字符",
    "password is too long (at most 72 bytes in UTF-8)": "password 过长（UTF-8 编码下最多 72 字节）",
    "email must be a string": "email 必须为字符串",
    "email must be at most 50 characters": "email 最多 50 个字符",
    "email is not a valid address: {v}": "email 不是有效的邮箱地址：{v}",
    "group must be a non-empty string": "group 必须为非空字符串",
    "group must be one name of at most 32 characters, without spaces or commas":
        "group 必须为单个分组名，最多 32 个字符，且不能包含空格或逗号",
    "role must be 1 (common user) or 10 (admin)": "role 必须为 1（普通用户）或 10（管理员）",
    "remark must be a string": "remark 必须为字符串",
    "remark must be at most 255 characters": "remark 最多 255 个字符",
    "order must be one of {join_list_orders}": "order 必须为以下之一：{join_list_orders}",
    "action must be one of {join_self_actions}": "action 必须为以下之一：{join_self_actions}",
    "You cannot create a user whose role is equal to or higher than yours": "无法创建权限大于等于自己的用户",
    "You cannot manage a user whose role is equal to or higher than yours": "无权管理同权限等级或更高权限等级的用户",
    "You cannot raise a user to a role equal to or higher than yours": "无权将其他用户权限等级提升到大于等于自己的权限等级",
    "The root user cannot be deleted": "无法删除超级管理员用户",
    "The root user cannot be disabled": "无法禁用超级管理员用户",
    "The root user cannot be demoted": "无法降级超级管理员用户",
    "The root user's role cannot be changed": "无法修改超级管理员用户的角色",
    "Only the root user can promote users to admin": "普通管理员用户无法提升其他用户为管理员",
    "This user is already an admin": "该用户已经是管理员",
    "This user is already a common user": "该用户已经是普通用户",
    "could not allocate an aff code": "无法分配邀请码",
    "could not allocate an access token": "无法分配 access token",

    # -- Tokens (API keys)
    "Token not found": "令牌不存在",
    "The token name is too long (at most 30 characters)": "令牌名称过长（最多 30 个字符）",
    "unlimited_quota must be a boolean": "unlimited_quota 必须为布尔值",
    "expired_time must be a unix timestamp or -1 (never)": "expired_time 必须为 Unix 时间戳，或 -1（永不过期）",
    "id is required and must be an integer": "id 不能为空，且必须为整数",
    "keyword is too long": "keyword 过长",
    "status 3 (expired) and 4 (exhausted) are set by OneRelay from the expiry and the quota: send 1 (enabled) or 2 (disabled)":
        "status 3（已过期）和 4（已耗尽）由 OneRelay 根据过期时间和额度自动设置：请传 1（启用）或 2（禁用）",
    "The token has expired: change its expiry first": "令牌已过期，无法启用，请先修改令牌过期时间，或者设置为永不过期",
    "The token's quota is used up: add quota or make it unlimited first":
        "令牌可用额度已用尽，无法启用，请先修改令牌剩余额度，或者设置为无限额度",
    "invalid subnet: {part}": "无效的网段：{part}",

    # -- Redemption codes
    "Invalid redemption code": "无效的兑换码",
    "This redemption code has already been used": "该兑换码已被使用",
    "This redemption code is disabled": "该兑换码已被禁用",
    "This redemption code has already been used: its status and quota can no longer change":
        "该兑换码已被使用，无法再修改其状态和额度",
    "key is required: the redemption code to redeem": "未提供兑换码",
    "Redemption code {rid} not found": "兑换码 {rid} 不存在",
    "name is required and must be a string": "name 不能为空，且必须为字符串",
    "name must be a string": "name 必须为字符串",
    "name must be 1-20 characters": "兑换码名称长度必须在1-20之间",
    "status must be 1 (enabled) or 2 (disabled)": "status 必须为 1（启用）或 2（禁用）",
    "status 3 (used) is set by redeeming the code: send 1 (enabled) or 2 (disabled)":
        "status 3（已使用）由兑换操作自动设置：请传 1（启用）或 2（禁用）",
    "keyword is too long (at most 100 characters)": "keyword 过长（最多 100 个字符）",

    # -- Channels
    "Channel not found": "渠道不存在",
    "Channel {cid} not found": "渠道 {cid} 不存在",
    "id is required and must be a positive integer": "id 不能为空，且必须为正整数",
    "unknown channel type: {t}": "未知的渠道类型：{t}",
    "key is required and must be a string": "key 不能为空，且必须为字符串",
    "key is too long (at most {key_limit} characters)": "key 过长（最多 {key_limit} 个字符）",
    "key must not contain {enc_prefix} (the prefix of encrypted values)": "key 不能包含 {enc_prefix}（加密值的前缀）",
    "key holds the masked placeholder {mask}: enter the key itself, or leave it empty to keep the stored one":
        "key 为脱敏占位符 {mask}：请填写密钥本身，或留空以保留已保存的密钥",
    'key_mode must be "split" (one channel per key line) or "rotate"':
        'key_mode 必须为 "split"（每行密钥创建一个渠道）或 "rotate"',
    "config must not contain {enc_prefix} (the prefix of encrypted values)":
        "config 不能包含 {enc_prefix}（加密值的前缀）",
    "config holds the masked placeholder {mask}: enter the secret itself": "config 中含有脱敏占位符 {mask}：请填写密钥本身",
    "config must be a JSON object": "config 必须为 JSON 对象",
    "base_url must be an http://, https:// (or, for websocket providers, ws:// or wss://) URL":
        "base_url 必须是以 http:// 或 https://（WebSocket 类渠道可用 ws:// 或 wss://）开头的 URL",
    "Azure channels need base_url (https://RESOURCE.openai.azure.com)":
        "Azure 渠道需要填写 base_url（https://RESOURCE.openai.azure.com）",
    "models is required: list the models this channel serves": "models 不能为空：请列出该渠道提供的模型",
    "models must not be empty: list the models this channel serves": "models 不能为空：请列出该渠道提供的模型",
    "model_mapping values must be model names (strings)": "model_mapping 的值必须为模型名称（字符串）",
    "status must be 1 (enabled), 2 (disabled) or 3 (auto-disabled)": "status 必须为 1（启用）、2（禁用）或 3（自动禁用）",
    "at most 1000 channels can be created at once": "一次最多只能创建 1000 个渠道",
    "keyword is too long (at most 200 characters)": "keyword 过长（最多 200 个字符）",
    "model is too long": "model 过长",

    # -- Channel tests and balances (log content: the test line, then ": {r_message}" when there is one)
    "Testing {scope} channels in the background": "正在后台测试渠道（范围：{scope}）",
    "Updating the balances of all enabled channels in the background": "正在后台更新所有已启用渠道的余额",
    "scope must be all or disabled": "scope 必须为 all 或 disabled",
    "A channel test is already running": "测试已在运行中",
    "A balance update is already running": "余额更新已在运行中",
    # One API: "渠道 %s 测试成功，响应：%s" / "渠道 %s 测试失败，错误：%s"
    "channel #{channel_id} ({channel_name}) test with model {model} passed in {r_seconds} s: {r_message}":
        "渠道 #{channel_id}（{channel_name}）使用模型 {model} 测试成功，耗时 {r_seconds} 秒，响应：{r_message}",
    "channel #{channel_id} ({channel_name}) test with model {model} passed in {r_seconds} s":
        "渠道 #{channel_id}（{channel_name}）使用模型 {model} 测试成功，耗时 {r_seconds} 秒",
    "channel #{channel_id} ({channel_name}) test with model {model} failed in {r_seconds} s: {r_message_or}":
        "渠道 #{channel_id}（{channel_name}）使用模型 {model} 测试失败，耗时 {r_seconds} 秒，错误：{r_message_or}",
    "channel #{channel_id} lists no models to test with": "渠道 #{channel_id} 未配置可用于测试的模型",
    "model {requested} is not served by channel #{channel_id} (its models: {join_channel_models_or_n})":
        "渠道 #{channel_id} 不提供模型 {requested}（该渠道的模型：{join_channel_models_or_n}）",
    "channel type {type_name_channel_type} cannot be tested: it relays no chat requests":
        "渠道类型 {type_name_channel_type} 无法测试：该类型不转发对话请求",
    "the test request could not be built: {r_failure_message}": "无法构造测试请求：{r_failure_message}",
    "the test request could not be built: {e}": "无法构造测试请求：{e}",
    "the upstream did not finish the test in time": "上游未能在规定时间内完成测试",
    "the upstream answered HTTP {resp_code} but not with a chat completion: {data_200_decode_utf_8_re}":
        "上游返回了 HTTP {resp_code}，但不是对话补全响应：{data_200_decode_utf_8_re}",
    "balance queries are not supported for channel type {type_name_channel_type}":
        "渠道类型 {type_name_channel_type} 不支持查询余额",
    "channel #{channel_id} has no base URL to query the balance at": "渠道 #{channel_id} 没有可用于查询余额的 Base URL",
    "the balance endpoint answered HTTP {resp_code}: {text}": "余额接口返回 HTTP {resp_code}：{text}",
    "the balance endpoint did not answer JSON": "余额接口返回的不是 JSON",
    "the balance endpoint's {what} is not a number": "余额接口返回的 {what} 不是数字",
    "the balance endpoint's {what} is not a number: {v}": "余额接口返回的 {what} 不是数字：{v}",
    "the balance endpoint's answer has no {what} object": "余额接口的响应中没有 {what} 对象",
    "currency CNY not found in balance_infos": "balance_infos 中没有 CNY 币种",
    "code: {data_get_error_code_data}, message: {data_get_message}":
        "错误码：{data_get_error_code_data}，错误信息：{data_get_message}",
    "code: {data_get_code}, message: {data_get_message}": "错误码：{data_get_code}，错误信息：{data_get_message}",
    "HTTP {resp_code}: {f_message}": "HTTP {resp_code}：{f_message}",
    "HTTP {resp_code}: {r_failure_message}": "HTTP {resp_code}：{r_failure_message}",

    # -- Relay (/v1): API keys, channels, quota
    "No API key provided: send `Authorization: Bearer sk-...`": "未提供令牌",
    "Invalid API key": "无效的令牌",
    "This API key is disabled": "该令牌状态不可用",
    "This API key has expired": "该令牌已过期",
    "This API key's quota is exhausted": "该令牌额度已用尽",
    "This API key may not be used from {client_ip}": "该令牌只能在指定网段使用，当前 ip：{client_ip}",
    "The user of this API key is disabled": "用户已被封禁",
    "This API key has no access to model {self_model}": "该令牌无权使用模型：{self_model}",
    "Only an admin's API key may pin a channel": "普通用户不支持指定渠道",
    "Only an admin's API key may use the proxy": "仅管理员的令牌可以使用代理渠道",
    "Channel {pinned} does not exist": "无效的渠道 Id：{pinned}",
    "Channel {pinned} is disabled": "该渠道已被禁用：{pinned}",
    "Channel {channel_id} does not exist": "无效的渠道 Id：{channel_id}",
    "Channel {channel_id} is disabled": "该渠道已被禁用：{channel_id}",
    "Channel {channel_id} is not a Proxy channel (type {proxy_type})":
        "渠道 {channel_id} 不是 Proxy 渠道（类型 {proxy_type}）",
    "No available channel for model {self_model} in group {group}": "当前分组 {group} 下对于模型 {self_model} 无可用渠道",
    "Channel #{channel_id} (type {channel_type}) does not support {self_mode} requests":
        "渠道 #{channel_id}（类型 {channel_type}）不支持 {self_mode} 请求",
    "The user's quota is not enough for this request": "用户额度不足",
    "This API key's remaining quota is not enough for this request": "令牌额度不足",
    "The quota store is unreachable; try again shortly": "额度存储暂时无法访问，请稍后重试",
    "The upload is larger than {max_upload_bytes_1024_10} MB": "上传的文件超过 {max_upload_bytes_1024_10} MB",
    "the upstream did not finish the request in time": "上游未能在规定时间内完成请求",
    "The upstream answered with a body that is not JSON: {readable_raw_message_par}":
        "上游返回的响应体不是 JSON：{readable_raw_message_par}",
    "The upstream answered the stream with something other than server-sent events: {what}":
        "上游的流式响应不是 server-sent events：{what}",
    "upstream websocket timed out": "上游 WebSocket 超时",
    "connect timed out": "连接超时",
    "RELAY_PROXY is not a URL: {url}": "RELAY_PROXY 不是有效的 URL：{url}",
    "Response with id '{response_id}' not found (only responses created through a channel that stores them can be fetched)":
        "未找到 id 为 '{response_id}' 的响应（只能获取通过会存储响应的渠道创建的响应）",
    "The channel that created response '{response_id}' no longer exists": "创建响应 '{response_id}' 的渠道已不存在",
    "The model '{model}' does not exist": "The model '{model}' does not exist",
    "API not implemented": "API not implemented",
    "Invalid URL ({self_request_method} {self_request_path})":
        "Invalid URL ({self_request_method} {self_request_path})",
    "Invalid URL (DELETE {self_request_path})": "Invalid URL (DELETE {self_request_path})",
    "Invalid URL (POST {self_request_path})": "Invalid URL (POST {self_request_path})",

    # -- Consume log notes (joined with "; ")
    "model ratio {mr}, group ratio {gr}, completion ratio {cr}": "模型倍率 {mr}，分组倍率 {gr}，补全倍率 {cr}",
    "model ratio {mr}, group ratio {gr}": "模型倍率 {mr}，分组倍率 {gr}",
    "cached input tokens {usage_cached_tokens}, reasoning tokens {usage_reasoning_tokens}":
        "缓存输入 token 数 {usage_cached_tokens}，推理 token 数 {usage_reasoning_tokens}",
    "charged {charged} of {actual} (balance ran out)": "实扣 {charged}，应扣 {actual}（余额已用尽）",
    "stream ended early": "流式响应提前结束",

    # -- Request bodies and query parameters
    "The request body is empty: send a JSON object": "请求体为空：请发送 JSON 对象",
    "The request body must be a JSON object": "请求体必须为 JSON 对象",
    "the request body must be a JSON object": "请求体必须为 JSON 对象",
    "The request body is not valid JSON: {e}": "请求体不是有效的 JSON：{e}",
    "The request body is not valid JSON: extra data after the value": "请求体不是有效的 JSON：值之后有多余的数据",
    "The request body is nested too deeply (at most {max_depth} levels)": "请求体嵌套层级过深（最多 {max_depth} 层）",
    "invalid {what}: {value}": "无效的 {what}：{value}",
    "p must be an integer between 0 and {page_max}": "p 必须为 0 到 {page_max} 之间的整数",
    "Internal server error": "服务器内部错误",
    "entity must be one of {join_entities}": "entity 必须为以下之一：{join_entities}",
    "action must be one of {join_actions}": "action 必须为以下之一：{join_actions}",
    "entity_id is too long": "entity_id 过长",
    "end_timestamp must not be before start_timestamp": "end_timestamp 不能早于 start_timestamp",
    "target_timestamp must be a positive unix time in seconds": "target_timestamp 必须为正的 Unix 时间戳（秒）",
    "target_timestamp is required (unix seconds)": "target_timestamp 不能为空（Unix 时间戳，单位为秒）",

    # -- Options
    "key is required": "key 不能为空",
    "value must be a string": "value 必须为字符串",
    "unknown option {key}": "未知的配置项 {key}",
    "Language must be one of {join_languages}": "Language 必须为以下之一：{join_languages}",
    "unknown log type {log_type}": "未知的日志类型 {log_type}",

    # -- Storage, secrets, e-mail, notifications
    "secantusd-py not found: install the SecantusDB package (pip install -e .)":
        "未找到 secantusd-py：请安装 SecantusDB 包（pip install -e .）",
    "embedded database did not start in time": "内置数据库未能按时启动",
    "embedded database exited with code {self_proc_returncode}; see {self_log_path}":
        "内置数据库已退出，退出码 {self_proc_returncode}；详见 {self_log_path}",
    "embedded database exited with code {self_proc_returncode}": "内置数据库已退出，退出码 {self_proc_returncode}",
    "TRUSTED_PROXIES: {entry} is not an IP address or CIDR (e.g. 10.0.0.0/8, 127.0.0.1, fd00::/8)":
        "TRUSTED_PROXIES：{entry} 不是 IP 地址或 CIDR（例如 10.0.0.0/8、127.0.0.1、fd00::/8）",
    "stored secrets are encrypted but CRYPTO_SECRET is not set: start OneRelay with the CRYPTO_SECRET they were encrypted with":
        "已保存的密钥经过加密，但未设置 CRYPTO_SECRET：请使用加密时的 CRYPTO_SECRET 启动 OneRelay",
    "the CRYPTO_SECRET check value does not match": "CRYPTO_SECRET 校验值不匹配",
    "a stored secret cannot be decrypted with this CRYPTO_SECRET (wrong secret, or the value is damaged): start OneRelay with the secret it was encrypted with, or re-encrypt with `python server.py rotate-secret`":
        "无法使用当前的 CRYPTO_SECRET 解密已保存的密钥（CRYPTO_SECRET 错误，或数据已损坏）：请使用加密时的 CRYPTO_SECRET 启动 OneRelay，或通过 `python server.py rotate-secret` 重新加密",
    "Email is not configured: the administrator has to set SMTPServer": "邮件服务未配置：管理员需要设置 SMTPServer",
    "Email is not configured: the administrator has to set SMTPFrom": "邮件服务未配置：管理员需要设置 SMTPFrom",
    "invalid recipient address": "无效的收件人地址",
    "could not build the email: {e}": "无法构建邮件：{e}",
    "Failed to send the email: the SMTP server refused the login": "发送邮件失败：SMTP 服务器拒绝登录",
    "Failed to send the email: the mail server refused the recipient": "发送邮件失败：邮件服务器拒绝了收件人",
    "Failed to send the email: the SMTP server answered {e_smtp_code}": "发送邮件失败：SMTP 服务器返回 {e_smtp_code}",
    "Failed to send the email: SMTP exchange failed": "发送邮件失败：与 SMTP 服务器通信失败",
    "Failed to send the email: cannot reach the SMTP server": "发送邮件失败：无法连接至 SMTP 服务器",
    "MessagePusherAddress is not an http(s) URL: {address}": "MessagePusherAddress 不是 http(s) URL：{address}",
    "Message Pusher answered HTTP {resp_code}: {data_200_decode_utf_8_re}":
        "Message Pusher 返回 HTTP {resp_code}：{data_200_decode_utf_8_re}",
    "Message Pusher refused the message: {answer_get_message_or_no}":
        "Message Pusher 拒绝了该消息：{answer_get_message_or_no}",

    # -- Channel configuration checked when a request is relayed
    "Channel #{target_id} (AIProxy Library) has no library ID: set Library ID in the channel's settings":
        "渠道 #{target_id}（AIProxy Library）缺少 Library ID：请在渠道设置中填写 Library ID",
    "Channel #{target_id} (AWS Bedrock) has no region: write the key as AK|SK|Region or set the channel's Region (e.g. us-east-1)":
        "渠道 #{target_id}（AWS Bedrock）缺少区域：请将密钥写为 AK|SK|Region，或设置渠道的 Region（例如 us-east-1）",
    "Channel #{target_id} (AWS Bedrock): {creds_region} is not an AWS region":
        "渠道 #{target_id}（AWS Bedrock）：{creds_region} 不是有效的 AWS 区域",
    "Channel #{target_id} (AWS Bedrock) has no {or_join_missing}: the key is AK|SK|Region, or fill the channel's Access key ID / Secret access key / Region":
        "渠道 #{target_id}（AWS Bedrock）缺少 {or_join_missing}：密钥格式为 AK|SK|Region，或填写渠道的 Access key ID / Secret access key / Region",
    "Channel #{target_id} (Cloudflare) has no account ID: set the channel's Account ID (config user_id), or use an AI Gateway base URL (https://gateway.ai.cloudflare.com/v1/{account}/{gateway}/workers-ai)":
        "渠道 #{target_id}（Cloudflare）缺少账户 ID：请设置渠道的 Account ID（config user_id），或使用 AI Gateway 的 Base URL（https://gateway.ai.cloudflare.com/v1/{account}/{gateway}/workers-ai）",
    "Channel #{target_id} (Proxy) has no base URL: set the address to forward to":
        "渠道 #{target_id}（Proxy）缺少 Base URL：请设置要转发到的地址",
    "Replicate model names are owner/name (e.g. meta/meta-llama-3-8b-instruct) or owner/name:version; {model} is neither: map it to one with Model mapping":
        "Replicate 的模型名称格式为 owner/name（例如 meta/meta-llama-3-8b-instruct）或 owner/name:version；{model} 均不符合：请通过模型重定向将其映射为符合格式的名称",
    "the Tencent Hunyuan key must be AppId|SecretId|SecretKey": "腾讯混元的密钥格式必须为 AppId|SecretId|SecretKey",
    "the Xunfei Spark key must be APPID|APISecret|APIKey": "讯飞星火的密钥格式必须为 APPID|APISecret|APIKey",
    "a Zhipu API key has the form <id>.<secret>": "智谱的 API 密钥格式为 <id>.<secret>",
    "Vertex AI channels need a project ID (config vertex_ai_project_id)":
        "Vertex AI 渠道需要项目 ID（config vertex_ai_project_id）",
    "Vertex AI channels need a service account JSON key (config vertex_ai_adc)":
        "Vertex AI 渠道需要服务账号 JSON 密钥（config vertex_ai_adc）",
    "Vertex AI channels need a region (config region, e.g. us-central1 or us-east5)":
        "Vertex AI 渠道需要区域（config region，例如 us-central1 或 us-east5）",
    "Vertex AI: invalid region {value}": "Vertex AI：无效的区域 {value}",
    "Vertex AI: the service account JSON has no {field}": "Vertex AI：服务账号 JSON 中缺少 {field}",
    "Vertex AI: the service account JSON (vertex_ai_adc) is not valid JSON":
        "Vertex AI：服务账号 JSON（vertex_ai_adc）不是有效的 JSON",
    "Vertex AI: the service account's private_key cannot sign ({type_e___name})":
        "Vertex AI：服务账号的 private_key 无法签名（{type_e___name}）",
    "Vertex AI needs PyJWT with cryptography installed": "Vertex AI 需要安装 PyJWT 及 cryptography",

    # -- AWS event streams (Bedrock)
    "event-stream message shorter than its prelude": "event-stream 消息短于其 prelude",
    "event-stream message is {len_frame} bytes, its prelude says {total}":
        "event-stream 消息长 {len_frame} 字节，但其 prelude 声明为 {total}",
    "event-stream message CRC mismatch (expected {message_crc}, computed {computed})":
        "event-stream 消息 CRC 校验不匹配（期望 {message_crc}，实际计算为 {computed}）",
    "event-stream prelude CRC mismatch (expected {prelude_crc}, computed {computed})":
        "event-stream prelude CRC 校验不匹配（期望 {prelude_crc}，实际计算为 {computed}）",
    "event-stream headers length {headers_len} exceeds {max_headers_length}":
        "event-stream 头部长度 {headers_len} 超过上限 {max_headers_length}",
    "event-stream total length {total} is smaller than its headers": "event-stream 总长度 {total} 小于其头部长度",
    "event-stream payload length {payload_len} exceeds {max_payload_length}":
        "event-stream 负载长度 {payload_len} 超过上限 {max_payload_length}",
    "malformed event-stream header name": "event-stream 头部名称格式错误",
    "event-stream header name is not UTF-8": "event-stream 头部名称不是 UTF-8 编码",
    "truncated value of event-stream header {name}": "event-stream 头部 {name} 的值被截断",
    "unknown event-stream header value type {vtype}": "未知的 event-stream 头部值类型 {vtype}",
    "event-stream header {name} is not UTF-8": "event-stream 头部 {name} 不是 UTF-8 编码",

    # -- Anthropic Messages requests (/v1/messages)
    "max_tokens: required, a positive integer": "max_tokens：必填，须为正整数",
    "messages: expected a non-empty list": "messages：应为非空列表",
    "messages.{i}.role: expected 'user' or 'assistant'": "messages.{i}.role：应为 'user' 或 'assistant'",
    "tools: expected a list": "tools：应为列表",
    "tools.{i}: expected an object": "tools.{i}：应为对象",
    "tools.{i}: a tool needs a name and an input_schema object": "tools.{i}：工具需要 name 和 input_schema 对象",
    "tool_choice: expected type auto, any, none, or tool with a name":
        "tool_choice：type 应为 auto、any、none，或带 name 的 tool",
    "thinking.budget_tokens: required, a positive integer": "thinking.budget_tokens：必填，须为正整数",
    "stop_sequences: expected a list of strings": "stop_sequences：应为字符串列表",

    # -- OpenAI Responses requests (/v1/responses); {needs_responses} is "needs a channel that speaks the Responses API"
    "'{name}' needs stored responses, which this channel cannot serve: send the whole conversation in 'input'":
        "'{name}' 需要已存储的响应，该渠道无法提供：请在 'input' 中发送完整对话",
    "'item_reference' needs stored items, which this channel cannot serve: send the item itself":
        "'item_reference' 需要已存储的输入项，该渠道无法提供：请直接发送该输入项",
    "prompt templates {needs_responses}": "prompt 模板：{needs_responses}",
    "background responses {needs_responses}": "后台响应（background）：{needs_responses}",
    "tool_choice '{kind}' {needs_responses}": "tool_choice '{kind}'：{needs_responses}",
    "tool type '{tool_get_type}' {needs_responses}": "工具类型 '{tool_get_type}'：{needs_responses}",
    "input item type '{kind}' {needs_responses}": "输入项类型 '{kind}'：{needs_responses}",
    "an input_file needs its 'file_data'; 'file_id' and 'file_url' {needs_responses}":
        "input_file 需要 'file_data'；'file_id' 和 'file_url'：{needs_responses}",
    "'input' is required": "'input' 为必填项",
    "'input' must be a string or an array of items": "'input' 必须为字符串或输入项数组",
    "'input' has no message": "'input' 中没有消息",
    "an input item must be an object": "输入项必须为对象",
    "'instructions' must be a string": "'instructions' 必须为字符串",
    "'tools' must be an array": "'tools' 必须为数组",
    "'text' must be an object": "'text' 必须为对象",
    "'max_output_tokens' must be a positive integer": "'max_output_tokens' 必须为正整数",
    "'{name}' must be a number": "'{name}' 必须为数字",
    "'text.format.type' must be text, json_schema or json_object":
        "'text.format.type' 必须为 text、json_schema 或 json_object",
    "a json_schema format needs its 'name' and 'schema'": "json_schema 格式需要 'name' 和 'schema'",
    "a message's 'role' must be user, assistant, system or developer":
        "消息的 'role' 必须为 user、assistant、system 或 developer",
    "a message's 'content' must be a string or an array": "消息的 'content' 必须为字符串或数组",
    "a content part must be an object": "内容部分必须为对象",
    "a text part needs its 'text'": "文本部分需要 'text'",
    "content part type '{kind}' cannot be sent to this channel": "内容部分类型 '{kind}' 无法发送到该渠道",
    "only text can be sent in a {role} message": "{role} 消息中只能发送文本",
    "an input_image needs an 'image_url' (a URL or a data URL); 'file_id' needs the Files API, which this gateway does not serve":
        "input_image 需要 'image_url'（URL 或 data URL）；'file_id' 需要 Files API，本网关不提供该接口",
    "a function_call needs its 'call_id'": "function_call 需要 'call_id'",
    "a function_call needs its 'name'": "function_call 需要 'name'",
    "a function_call's 'arguments' must be a JSON string": "function_call 的 'arguments' 必须为 JSON 字符串",
    "a function_call_output needs its 'call_id'": "function_call_output 需要 'call_id'",
    "a function_call_output's 'output' must be a string or an array":
        "function_call_output 的 'output' 必须为字符串或数组",
    "only text can be sent in a function_call_output": "function_call_output 中只能发送文本",
    "a tool must be an object": "工具必须为对象",
    "a function tool needs its 'name'": "function 工具需要 'name'",

    # -- Sign-in, bonuses and quota logs (One API's wording)
    "Wrong username or password, or the user has been banned": "用户名或密码错误，或用户已被封禁",
    "Wrong username or password, or the user has been banned. Too many failed attempts: try again in {wait_text_wait}":
        "用户名或密码错误，或用户已被封禁。失败次数过多，请在 {wait_text_wait} 后重试",
    "Too many failed logins from your address: try again in {wait_text_wait}": "当前 IP 登录失败次数过多，请在 {wait_text_wait} 后重试",
    "Too many failed logins for this account: try again in {wait_text_wait}": "该账户登录失败次数过多，请在 {wait_text_wait} 后重试",
    "sort must be one of {join_log_sorts}": "sort 必须是以下之一：{join_log_sorts}",
    "Too many attempts: try again in a few minutes": "尝试次数过多，请几分钟后再试",
    "Too many requests: try again later": "请求过于频繁，请稍后再试",
    "Internal server error (request id: {self_request_id})": "服务器内部错误（request id: {self_request_id}）",
    "An admin changed the user's quota from {log_quota_self_ctx_old_q} to {log_quota_self_ctx_new_q}":
        "管理员将用户额度从 {log_quota_self_ctx_old_q}修改为 {log_quota_self_ctx_new_q}",
    "Bonus for inviting user {username}: {format_quota_o_inviter_b}": "邀请用户 {username} 赠送 {format_quota_o_inviter_b}",
    "Invitation code bonus: {format_quota_o_invitee_b}": "使用邀请码赠送 {format_quota_o_invitee_b}",
    "New user bonus: {format_quota_o_bonus}": "新用户注册赠送 {format_quota_o_bonus}",
    "Redeemed a code for {log_quota_self_ctx_quota}": "通过兑换码充值 {log_quota_self_ctx_quota}",
    # -- values filled into other messages
    "passed": "通过",
    "failed": "失败",
    "The server is shutting down": "服务器正在关闭",
    "needs a channel that speaks the Responses API": "需要支持 Responses API 的渠道",
    "the Turnstile verifier": "Turnstile 校验服务",
    "the OIDC provider": "OIDC 服务器",
    "the WeChat server": "微信服务器",
    "a string": "字符串",
    "an integer": "整数",
    "a number": "数字",
    "a boolean": "布尔值",
    "an object": "对象",
    "an array": "数组",
    # -- consume log notes for priced requests
    "input token count": "输入 token 计数",
    "transcript tokens": "转写 token",
    # -- upstream answers that are not what was expected
    "AIProxy library error {code}": "AIProxy 知识库错误 {code}",
    "AIProxy library request failed": "AIProxy 知识库请求失败",
    "Baidu refused the key: {data_error} ({desc})": "百度拒绝了该密钥：{data_error}（{desc}）",
    "Baidu refused the key: {data_error}": "百度拒绝了该密钥：{data_error}",
    "DashScope answered something other than an image task: {body_decode_utf_8_replac}":
        "DashScope 返回的不是图像任务：{body_decode_utf_8_replac}",
    "Google refused the service account: {code} ({desc})": "Google 拒绝了该服务账号：{code}（{desc}）",
    "Google refused the service account: {code}": "Google 拒绝了该服务账号：{code}",
    "Google refused the service account: {str_data_error_get_messa}": "Google 拒绝了该服务账号：{str_data_error_get_messa}",
    "PaLM answered no candidates": "PaLM 未返回任何候选结果",
    "Replicate answered something other than a prediction: {body_decode_utf_8_replac}":
        "Replicate 返回的不是预测结果：{body_decode_utf_8_replac}",
    "Replicate model {req_model} does not stream its output: ask without stream":
        "Replicate 模型 {req_model} 不支持流式输出：请不要使用 stream",
    "Replicate prediction {data_get_id} succeeded without an image URL": "Replicate 预测 {data_get_id} 已成功，但没有返回图像 URL",
    "The channel key is not a Zhipu API key (<id>.<secret>): the v3 API of {req_model} needs one to sign its token":
        "渠道密钥不是智谱 API key（<id>.<secret>）：{req_model} 的 v3 API 需要用它签发 token",
    "token exchange failed: {body_decode_utf_8_replac}": "token 交换失败：{body_decode_utf_8_replac}",
    "token exchange failed: {transport_error_resp_0}": "token 交换失败：{transport_error_resp_0}",
    "upstream error": "上游错误",

    # -- Channel tags, batch edits, copies, auto-enable, expected test replies
    "Channels not found: {join_map_str_missing_20}": "渠道不存在：{join_map_str_missing_20}",
    "No channel has the tag {tag}": "没有标签为 {tag} 的渠道",
    "Nothing to change: give at least one of {join_allowed}": "没有要修改的内容：请至少提供 {join_allowed} 中的一项",
    "ids is required: the channels to edit": "ids 不能为空：请选择要编辑的渠道",
    "tag is required": "tag 不能为空",
    "test_expect is not a valid regular expression: {e}": "test_expect 不是有效的正则表达式：{e}",
    "auto_enable_at must be between 0 and {ts_limit}": "auto_enable_at 必须在 0 到 {ts_limit} 之间",
    "the reply does not match the expected pattern {expect}: {clip_reply}": "回复与预期的模式 {expect} 不匹配：{clip_reply}",
    "The key suffix {suffix} is taken: choose another": "令牌后缀 {suffix} 已被占用，请换一个",
    "key_suffix must be 4-32 letters, digits or underscores": "key_suffix 必须是 4-32 个字母、数字或下划线",
    # -- Billing extras (services/billing.py)
    "DefaultGroup must not be empty": "DefaultGroup 不能为空",
    "Invite rebate: {log_quota_ctx_rebate} for a top-up of user {user_get_username_or}":
        "邀请返利：用户 {user_get_username_or} 充值，返利 {log_quota_ctx_rebate}",
    "Moved to group {group}: top-ups reached {threshold}": "累计充值达到 {threshold}，已升级到分组 {group}",
    "bonus period {period_get_name_or} x{period_ratio}: {log_quota_ctx_credited}":
        "充值优惠 {period_get_name_or} x{period_ratio}：实际到账 {log_quota_ctx_credited}",
    "TopupBonusPeriods must be a JSON array of at most {max_periods} periods": "TopupBonusPeriods 必须是最多 {max_periods} 个时段的 JSON 数组",
    'each bonus period is {"name", "from": unix time, "to": unix time, "ratio": number}':
        '每个优惠时段的格式为 {"name", "from": unix 时间, "to": unix 时间, "ratio": 数字}',
    "a bonus period needs from < to and a ratio from 1 to 10": "优惠时段需满足 from < to，且 ratio 在 1 到 10 之间",
    "GroupUpgradeRules must be a JSON object of group name to a positive quota threshold":
        "GroupUpgradeRules 必须是分组名到正整数额度阈值的 JSON 对象",
    "TopupPlans must be a JSON array of at most {max_plans} plans": "TopupPlans 必须是最多 {max_plans} 个套餐的 JSON 数组",
    'each plan is {"name", "price", "quota", "note"} with a name': '每个套餐的格式为 {"name", "price", "quota", "note"}，且必须有 name',
    "a plan's quota must be a whole number of quota points": "套餐的 quota 必须是整数额度点数",
    # -- Limits, per-call prices, token groups, channel proxies and headers
    "ModelPrice must be a JSON object of model name to a price in USD per request (0 to 1000000)":
        "ModelPrice 必须是模型名到每次请求价格（美元，0 到 1000000）的 JSON 对象",
    "UserUsableGroups must be a JSON object of group name to its description": "UserUsableGroups 必须是分组名到其描述的 JSON 对象",
    "You may not use the group {group}: pick one of GET /api/user/groups": "您无权使用分组 {group}：请从 GET /api/user/groups 中选择",
    'billing_mode must be "ratio" or "per_call"': 'billing_mode 必须是 "ratio" 或 "per_call"',
    "group must be a group name": "group 必须是分组名",
    "headers may not set {join_bad}": "headers 不能设置 {join_bad}",
    "headers must be a JSON object of header name to a one-line string value": "headers 必须是请求头名到单行字符串值的 JSON 对象",
    "proxy must be an http://, https://, socks5:// or socks5h:// URL": "proxy 必须是 http://、https://、socks5:// 或 socks5h:// URL",
    "This API key": "该令牌",
    "Your account": "您的账户",
    "Your group": "您的分组",
    "daily": "每日",
    "weekly": "每周",
    "monthly": "每月",
    "5-hour": "5 小时",
    "Every channel serving {self_model} is at its requests-per-minute limit; retry shortly":
        "提供模型 {self_model} 的渠道都已达到每分钟请求数上限，请稍后重试",
    "The upstream answered with an empty reply (no content, no tool call)": "上游返回了空回复（没有内容，也没有工具调用）",
    "no ModelPrice for {self_model}: billed by tokens": "模型 {self_model} 没有按次价格（ModelPrice）：按 token 计费",
    "per-call price {ctx_options_json_modelpr} USD, group ratio {gr}": "按次计费 {ctx_options_json_modelpr} 美元，分组倍率 {gr}",
    # -- Notifications
    "NotifyMethod must be one of auto, email, webhook, both": "NotifyMethod 必须是 auto、email、webhook、both 之一",
    "WxPusher answered HTTP {resp_code}: {data_200_decode_utf_8_re}": "WxPusher 返回 HTTP {resp_code}：{data_200_decode_utf_8_re}",
    "WxPusher answered something other than JSON": "WxPusher 返回的不是 JSON",
    "WxPusher refused the message: {msg_or_no_reason_given}": "WxPusher 拒绝了该消息：{msg_or_no_reason_given}",
    "WxPusherAddress is not an http(s) URL: {address}": "WxPusherAddress 不是 http(s) URL：{address}",

    # -- templates that begin with a placeholder, most specific first
    "{option} is not an http(s) URL: {address}": "{option} 不是 http(s) URL：{address}",
    "{service} answered HTTP {resp_code}: {data_200_decode_utf_8_re}": "{service} 返回 HTTP {resp_code}：{data_200_decode_utf_8_re}",
    "{what} is reached: retry in {s} s": "{what}已达上限，请在 {s} 秒后重试",
    "{what} is used up: retry in {s} s": "{what}已用尽，请在 {s} 秒后重试",
    "{who}'s limit of {n} requests per minute for {model}": "{who}对模型 {model} 每分钟 {n} 次请求的限制",
    "{who}'s limit of {n} requests per minute": "{who}每分钟 {n} 次请求的限制",
    "{who}'s limit of {n} tokens per minute for {model}": "{who}对模型 {model} 每分钟 {n} 个 token 的限制",
    "{who}'s limit of {n} tokens per minute": "{who}每分钟 {n} 个 token 的限制",
    "{who}'s {period} quota ({cap}) is used up: {used} spent; more in {t}":
        "{who}的{period}额度（{cap}）已用尽：已使用 {used}；{t}后恢复",
    "{what} must be a whole number (0: no limit)": "{what} 必须是整数（0 表示不限制）",
    '{what} must be an object such as {"rpm": 60, "tpm": 100000}': '{what} 必须是对象，例如 {"rpm": 60, "tpm": 100000}',
    "{what}.models must be an object of model name to {rpm, tpm}": "{what}.models 必须是模型名到 {rpm, tpm} 的对象",
    "{what}.models.{m}: only rpm and tpm are per model": "{what}.models.{m}：按模型只能设置 rpm 和 tpm",
    "{what}: unknown limit {k} (known: {join_allowed})": "{what}：未知的限制 {k}（可用：{join_allowed}）",
    "{h} h {m} min": "{h} 小时 {m} 分钟",
    "{n} min": "{n} 分钟",
    "{n} s": "{n} 秒",
    "{key} must be an http:// or https:// URL": "{key} 必须是 http:// 或 https:// URL",
    # handlers.ratelimit.wait_text: filled into the login messages above
    "{seconds} seconds": "{seconds} 秒",
    "{seconds} second": "{seconds} 秒",
    "{minutes} minutes": "{minutes} 分钟",
    "{message} (DashScope request id: {request_id})": "{message}（DashScope request id: {request_id}）",
    "{message} (DeepL character quota exceeded)": "{message}（DeepL 字符额度已用尽）",
    "{n} image(s), size {self_body_get_size_or_de}, quality {self_body_quality}":
        "{n} 张图像，尺寸 {self_body_get_size_or_de}，质量 {self_body_quality}",
    "{n} image(s), size {self_body_get_size_or_de}": "{n} 张图像，尺寸 {self_body_get_size_or_de}",
    "{len_self_body_get_input} characters": "{len_self_body_get_input} 个字符",
    "{seconds} s of audio": "{seconds} 秒音频",
    "{where}.source: only base64 PDF, text and content document sources are supported":
        "{where}.source：仅支持 base64 PDF、text 和 content 类型的文档来源",
    "{key} must be a JSON object of name to non-negative finite number": "{key} 必须为名称到非负有限数值的 JSON 对象",
    "{where}.{j}: content block type {btype} is not supported in an assistant turn":
        "{where}.{j}：assistant 消息中不支持内容块类型 {btype}",
    "{name} is not a valid JSON number (NaN and Infinity are refused)":
        "{name} 不是有效的 JSON 数字（不接受 NaN 和 Infinity）",
    "{where}.source: only base64 and url image sources are supported":
        "{where}.source：仅支持 base64 和 url 类型的图片来源",
    "{where}: content block type {btype} is not supported in a user turn": "{where}：user 消息中不支持内容块类型 {btype}",
    "{key} must not contain {enc_prefix} (the prefix of encrypted values)": "{key} 不能包含 {enc_prefix}（加密值的前缀）",
    "{where}: expected a string or a list of content blocks": "{where}：应为字符串或内容块列表",
    "{key} must be a finite number (not NaN or Infinity)": "{key} 必须为有限数值（不能是 NaN 或 Infinity）",
    "{where}.{j}: expected a content block object with a type": "{where}.{j}：应为带 type 的内容块对象",
    "{where}.{j}: a tool_use block needs an id and a name": "{where}.{j}：tool_use 块需要 id 和 name",
    "{k} is too long (at most 20000 characters)": "{k} 过长（最多 20000 个字符）",
    "{p} must be at most {self_max_len} characters (too long)": "{p} 最多 {self_max_len} 个字符（过长）",
    "{name} is too long (at most {limit} characters)": "{name} 过长（最多 {limit} 个字符）",
    "{self_provider} returned no user: try again later": "{self_provider} 未返回用户信息，请稍后重试",
    "{k} is too long (at most {limit} characters)": "{k} 过长（最多 {limit} 个字符）",
    "{key} is too long (at most {limit} characters)": "{key} 过长（最多 {limit} 个字符）",
    "{key} is too long (at most {long_text_limit} characters)": "{key} 过长（最多 {long_text_limit} 个字符）",
    "{key} must be a comma-separated string": "{key} 必须为以逗号分隔的字符串",
    "{what} sent an invalid answer (HTTP {resp_code})": "{what} 返回了无效的响应（HTTP {resp_code}）",
    "{what} must be a JSON object string": "{what} 必须为 JSON 对象字符串",
    "{p} must be at least {self_min_len} characters": "{p} 至少 {self_min_len} 个字符",
    "{key} must be at most {max_len} characters": "{key} 最多 {max_len} 个字符",
    '{key} must be "true" or "false"': '{key} 必须为 "true" 或 "false"',
    "{p} must have at least {self_min_len} items": "{p} 至少 {self_min_len} 项",
    "{name} must be an integer, got {raw_40}": "{name} 必须为整数，收到的是 {raw_40}",
    "{p} must be an integer, got {raw_40}": "{p} 必须为整数，收到的是 {raw_40}",
    "{p} must have at most {self_max_len} items": "{p} 最多 {self_max_len} 项",
    "{p} must be a finite number": "{p} 必须为有限数值",
    "{where}.{j}: expected a text block": "{where}.{j}：应为 text 块",
    "{name} must be between 0 and {maximum}": "{name} 必须在 0 到 {maximum} 之间",
    "{what} must be a JSON object": "{what} 必须为 JSON 对象",
    "{key} must be between {minimum} and {int_limit}": "{key} 必须在 {minimum} 到 {int_limit} 之间",
    "{key} must be between {minimum} and {maximum}": "{key} 必须在 {minimum} 到 {maximum} 之间",
    "{key} must be between {lo} and {hi}": "{key} 必须在 {lo} 到 {hi} 之间",
    "{key} must be between {lo_f} and {hi_f}": "{key} 必须在 {lo_f} 到 {hi_f} 之间",
    "{p} must be true or false": "{p} 必须为 true 或 false",
    "{p} must be between {lo} and {hi}": "{p} 必须在 {lo} 到 {hi} 之间",
    "{where}.tool_use_id: required": "{where}.tool_use_id：必填",
    "{key} must be {min_len}-{max_len} characters": "{key} 长度必须为 {min_len}-{max_len} 个字符",
    "{p} must be {self_min_len}-{self_max_len} characters": "{p} 长度必须为 {self_min_len}-{self_max_len} 个字符",
    "{what} is not valid JSON: {e}": "{what} 不是有效的 JSON：{e}",
    "{key} is not valid JSON: {e}": "{key} 不是有效的 JSON：{e}",
    "{name} must be an integer": "{name} 必须为整数",
    "{self_aborted_or_the_serv}; retry the request": "{self_aborted_or_the_serv}，请重试",
    "{key} must be an integer": "{key} 必须为整数",
    "{key}: expected a number": "{key}：应为数字",
    "{p} must be an integer": "{p} 必须为整数",
    "{key} must be at least {minimum}": "{key} 不能小于 {minimum}",
    "{p} must not be empty": "{p} 不能为空",
    "{k} must be a string": "{k} 必须为字符串",
    "{key} must be a string": "{key} 必须为字符串",
    "{key} must be a number": "{key} 必须为数字",
    "{key} must be positive": "{key} 必须为正数",
    "{p} must not be null": "{p} 不能为 null",
    "{where}.source: required": "{where}.source：必填",
    "{p} is out of range": "{p} 超出范围",
    "{name} is required": "{name} 不能为空",
    "{name} is too long": "{name} 过长",
    "{key} is required": "{key} 不能为空",
    "{p} must be {self_describe}": "{p} 必须为 {self_describe}",
}
