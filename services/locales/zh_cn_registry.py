"""Simplified Chinese for the provider registry's console texts (``GET /api/channel/types``).

Exact English text → 简体中文 for every prose text of :data:`adaptors.registry.PROVIDERS`: a
spec's ``note``, ``base_url_note`` and ``key_format``, a config field's ``label``, ``help`` and
``placeholder`` when it is prose. Example values (``us-east-1``, ``AK|SK``, URLs) have no entry
and are served as they are. Product, model and type names, URLs, paths, headers, JSON keys and
example values stay as in the English. A URL in a Chinese text is followed by a space or ends
the text, so the console's example-address extraction (frontend ``baseUrlPlaceholder``) reads
the same URL in both languages. ``tests/test_registry_i18n.py`` fails when a text lacks an entry.
"""

from __future__ import annotations

REGISTRY: dict[str, str] = {
    # -- shared
    "OpenAI-compatible API: requests are forwarded as they are.": "OpenAI 兼容 API：请求按原样转发。",
    "API version": "API 版本",
    "Region": "区域",
    # -- 1 OpenAI
    "OpenAI or any OpenAI-compatible mirror.": "OpenAI 官方 API 或任意 OpenAI 兼容的镜像服务。",
    "Leave empty for api.openai.com. For a mirror, give its address without /v1.":
        "留空则使用 api.openai.com。使用镜像时填写其地址，不含 /v1。",
    # -- 3 Azure OpenAI
    "The deployment is the model name without dots (gpt-3.5-turbo → gpt-35-turbo), as in One API; use Model "
    "mapping to send a model to a differently named deployment.":
        "部署名即去掉点号的模型名（gpt-3.5-turbo → gpt-35-turbo），与 One API 一致；"
        "如需将模型发往名称不同的部署，请使用模型重定向。",
    "The resource endpoint, e.g. https://my-resource.openai.azure.com (no path).":
        "资源终结点（不含路径），例如 https://my-resource.openai.azure.com",
    "The api-version query parameter; empty = 2024-10-21.": "api-version 查询参数；留空则为 2024-10-21。",
    # -- 8 Custom
    "Deprecated: only replaces the host of OpenAI requests. Prefer \"OpenAI-compatible\".":
        "已弃用：仅替换 OpenAI 请求的主机地址。建议改用“OpenAI-compatible”类型。",
    "The host that replaces api.openai.com, e.g. https://my-gateway.example.com.":
        "用于替换 api.openai.com 的主机地址，例如 https://my-gateway.example.com",
    # -- 11 Google PaLM
    "PaLM 2 chat (v1beta2 generateMessage): OpenAI-format chat is converted both ways; no native streaming (a "
    "stream request gets the whole answer as one chunk) and no tools. PaLM-2 (One API's model name) means "
    "chat-bison-001. Google has retired the PaLM API: prefer Google Gemini.":
        "PaLM 2 对话（v1beta2 generateMessage）：OpenAI 格式的对话请求与响应双向转换；不支持原生流式输出"
        "（流式请求会在一个数据块中收到完整回答），也不支持工具调用。PaLM-2（One API 中的模型名）即 "
        "chat-bison-001。Google 已停用 PaLM API，建议改用 Google Gemini。",
    "Leave empty for generativelanguage.googleapis.com; /v1beta2 is appended unless the address already ends in "
    "a version.":
        "留空则使用 generativelanguage.googleapis.com；除非地址已以版本号结尾，否则会自动追加 /v1beta2。",
    # -- 14 Anthropic
    "Claude via the native Messages API: OpenAI-format requests are converted both ways. The key is an "
    "Anthropic API key (sk-ant-…).":
        "通过原生 Messages API 调用 Claude：OpenAI 格式的请求与响应双向转换。密钥为 Anthropic API 密钥（sk-ant-…）。",
    "Leave empty for api.anthropic.com.": "留空则使用 api.anthropic.com。",
    # -- 15 Baidu ERNIE
    "ERNIE through Qianfan's v1 wenxinworkshop API: the key (API Key|Secret Key) is exchanged for an access "
    "token, cached until shortly before it expires; OpenAI-format chat and embeddings are converted both ways. "
    "The model picks the endpoint as in One API (ERNIE-4.0-8K → completions_pro, ERNIE-3.5-8K → completions, "
    "ERNIE-Speed-8K → ernie_speed…); any other name is used lower-cased (a custom service's endpoint). For "
    "Qianfan's OpenAI-compatible v2 API choose \"Baidu Qianfan V2\".":
        "通过千帆 v1 wenxinworkshop API 调用 ERNIE：用密钥（API Key|Secret Key）换取 access token，"
        "并缓存至临近过期；OpenAI 格式的对话与 Embedding 请求双向转换。与 One API 一样由模型名决定接口"
        "（ERNIE-4.0-8K → completions_pro，ERNIE-3.5-8K → completions，ERNIE-Speed-8K → ernie_speed…）；"
        "其他模型名转为小写后直接用作接口名（自定义服务的接口）。如需使用千帆的 OpenAI 兼容 v2 API，"
        "请选择“Baidu Qianfan V2”类型。",
    "Leave empty for aip.baidubce.com. Another address (a proxy) serves both the token endpoint "
    "(/oauth/2.0/token) and the API.":
        "留空则使用 aip.baidubce.com。填写其他地址（如代理）时，token 接口（/oauth/2.0/token）和 API "
        "都通过该地址访问。",
    # -- 16 Zhipu ChatGLM
    "Zhipu BigModel: glm-* models (and other current ones) through the v4 API (/api/paas/v4, OpenAI-like, "
    "Bearer key, tools); the old chatglm_* models through the v3 API with a JWT signed from the key. The key is "
    "the id.secret API key from open.bigmodel.cn. Embeddings: embedding-2, embedding-3. Images "
    "(/v1/images/generations): CogView models (cogview-3, cogview-4…) with size, quality and user; one image "
    "per Zhipu request, so n > 1 is made by asking again; b64_json is made here from the image URLs.":
        "智谱 BigModel：glm-* 模型（及其他现行模型）使用 v4 API（/api/paas/v4，类 OpenAI 格式，Bearer 密钥，"
        "支持工具调用）；旧版 chatglm_* 模型使用 v3 API，以密钥签发的 JWT 鉴权。密钥为 open.bigmodel.cn 上 "
        "id.secret 格式的 API 密钥。Embedding：embedding-2、embedding-3。图像（/v1/images/generations）："
        "CogView 模型（cogview-3、cogview-4…），支持 size、quality 和 user 参数；智谱每次请求只生成一张图，"
        "n > 1 时会重复请求；b64_json 由网关根据图片 URL 生成。",
    "Leave empty for open.bigmodel.cn; https://api.z.ai/api/paas/v4 (Z.ai) works too.":
        "留空则使用 open.bigmodel.cn；也可填写 Z.ai 的地址 https://api.z.ai/api/paas/v4",
    # -- 17 Alibaba Qwen
    "Alibaba DashScope native API (text-generation; multimodal-generation for qwen-vl/qvq/qwen-audio models): "
    "OpenAI-format chat and embedding requests are converted both ways, tools included. A model name ending in "
    "-internet turns on web search. Images (/v1/images/generations): wanx models (wanx-v1, wanx2.1-t2i-turbo…) "
    "as an asynchronous task, polled every second until it ends; size 1024x1024 is sent as 1024*1024; b64_json "
    "is made here from the image URLs. For DashScope's OpenAI-compatible mode, choose \"Alibaba Bailian\".":
        "阿里云 DashScope 原生 API（text-generation；qwen-vl/qvq/qwen-audio 模型使用 multimodal-generation）："
        "OpenAI 格式的对话与 Embedding 请求双向转换，支持工具调用。模型名以 -internet 结尾时开启联网搜索。"
        "图像（/v1/images/generations）：wanx 模型（wanx-v1、wanx2.1-t2i-turbo…）以异步任务方式提交，"
        "每秒轮询一次直至结束；size 1024x1024 会以 1024*1024 发送；b64_json 由网关根据图片 URL 生成。"
        "如需使用 DashScope 的 OpenAI 兼容模式，请选择“Alibaba Bailian”类型。",
    "Leave empty for dashscope.aliyuncs.com; use https://dashscope-intl.aliyuncs.com for the international site.":
        "留空则使用 dashscope.aliyuncs.com；国际站请填写 https://dashscope-intl.aliyuncs.com",
    "Plugin": "插件",
    "e.g. {\"pdf_extracter\":{}}": "例如 {\"pdf_extracter\":{}}",
    "DashScope plugin header (optional).": "DashScope 插件请求头（可选）。",
    # -- 18 Xunfei Spark
    "Spark's websocket API (wss://spark-api.xf-yun.com), signed with the APISecret (HMAC-SHA256 URL "
    "authentication): OpenAI-format chat is converted both ways, streams and function calling (Pro, Max, Ultra) "
    "included. The model picks the version as in One API (SparkDesk-v3.5 or Spark-Max → v3.5, generalv3.5; "
    "Spark-Lite → v1.1; Spark-4.0-Ultra → v4.0; -128K/-32K → /chat/pro-128k, /chat/max-32k); \"SparkDesk\" "
    "alone uses the API version below (default v1.1). For Spark's OpenAI-compatible HTTP API choose "
    "\"Xunfei Spark V2\".":
        "讯飞星火 WebSocket API（wss://spark-api.xf-yun.com），使用 APISecret 签名（HMAC-SHA256 URL 鉴权）："
        "OpenAI 格式的对话请求与响应双向转换，支持流式输出和函数调用（Pro、Max、Ultra）。与 One API 一样由"
        "模型名决定版本（SparkDesk-v3.5 或 Spark-Max → v3.5，generalv3.5；Spark-Lite → v1.1；"
        "Spark-4.0-Ultra → v4.0；-128K/-32K → /chat/pro-128k、/chat/max-32k）；模型名仅为 SparkDesk 时"
        "使用下方的 API 版本（默认 v1.1）。如需使用星火的 OpenAI 兼容 HTTP API，请选择“Xunfei Spark V2”类型。",
    "Leave empty for wss://spark-api.xf-yun.com. Another address (a proxy) is written ws(s)://host[/prefix] (or "
    "http(s)://, meaning ws(s)://) and reached as ws(s)://host[/prefix]/v3.5/chat etc.":
        "留空则使用 wss://spark-api.xf-yun.com 作为地址。其他地址（如代理）写作 ws(s)://host[/prefix]"
        "（也可写作 http(s)://，视同 ws(s)://），实际访问 ws(s)://host[/prefix]/v3.5/chat 等地址。",
    "e.g. v3.5": "例如 v3.5",
    "The Spark API version for the model name SparkDesk (v1.1, v2.1, v3.1, v3.1-128K, v3.5, v3.5-32K, v4.0); "
    "empty = v1.1.":
        "模型名为 SparkDesk 时使用的星火 API 版本（v1.1、v2.1、v3.1、v3.1-128K、v3.5、v3.5-32K、v4.0）；"
        "留空则为 v1.1。",
    # -- 21 AIProxy Library
    "Questions to an AIProxy knowledge library (/api/library/ask): the last message is the question, the answer "
    "comes back as a chat answer with its reference documents appended as links.":
        "向 AIProxy 知识库提问（/api/library/ask）：最后一条消息作为问题，答案以对话回复的形式返回，"
        "并以链接形式附上参考文档。",
    "Leave empty for api.aiproxy.io.": "留空则使用 api.aiproxy.io。",
    "Library ID": "知识库 ID",
    "The knowledge library ID": "AIProxy 知识库 ID",
    "Sent as libraryId (a channel's legacy Other field is used when empty).":
        "作为 libraryId 发送（留空时使用渠道旧版的“其他”字段）。",
    # -- 22 FastGPT
    "The FastGPT server, e.g. https://fastgpt.example.com (a trailing /api/openapi is fine); requests go to "
    "/api/openapi/v1/chat/completions.":
        "FastGPT 服务器地址（末尾带 /api/openapi 也可以），请求发往 /api/openapi/v1/chat/completions。"
        "例如 https://fastgpt.example.com",
    # -- 23 Tencent Hunyuan
    "Tencent Cloud API 3.0 (ChatCompletions, GetEmbedding) signed with TC3-HMAC-SHA256: OpenAI-format requests "
    "are converted both ways, tools and images included. The key is AppId|SecretId|SecretKey from the Tencent "
    "Cloud API key page (SecretId|SecretKey works too: the AppId is not signed).":
        "腾讯云 API 3.0（ChatCompletions、GetEmbedding），使用 TC3-HMAC-SHA256 签名：OpenAI 格式的请求与"
        "响应双向转换，支持工具调用和图片。密钥为腾讯云 API 密钥页面中的 AppId|SecretId|SecretKey"
        "（也可只填 SecretId|SecretKey：AppId 不参与签名）。",
    "Leave empty for hunyuan.tencentcloudapi.com. For Hunyuan's OpenAI-compatible endpoint "
    "(https://api.hunyuan.cloud.tencent.com/v1 with an API key) use \"OpenAI-compatible\".":
        "留空则使用 hunyuan.tencentcloudapi.com。如需使用混元的 OpenAI 兼容接口，请选择“OpenAI-compatible”"
        "类型，并填写 https://api.hunyuan.cloud.tencent.com/v1 和 API 密钥。",
    "e.g. ap-guangzhou": "例如 ap-guangzhou",
    "Sent as X-TC-Region; Hunyuan needs none, so leave it empty.": "作为 X-TC-Region 发送；混元不需要区域，留空即可。",
    # -- 24 Google Gemini
    "Native Gemini API: OpenAI-format chat and embedding requests are converted both ways. For Gemini through "
    "its OpenAI-compatible endpoint, choose \"Gemini (OpenAI)\".":
        "Gemini 原生 API：OpenAI 格式的对话与 Embedding 请求双向转换。如需通过 Gemini 的 OpenAI 兼容接口"
        "访问，请选择“Gemini (OpenAI)”类型。",
    "Leave empty for generativelanguage.googleapis.com.": "留空则使用 generativelanguage.googleapis.com。",
    "The API version in the URL; empty = the server's GEMINI_VERSION (v1beta).":
        "URL 中的 API 版本；留空则使用服务器的 GEMINI_VERSION 设置（v1beta）。",
    # -- 26 Baichuan, 27 MiniMax
    "OpenAI-compatible API; requests are re-encoded without the null fields and zero penalties Baichuan rejects.":
        "OpenAI 兼容 API；请求会重新编码，去掉百川不接受的 null 字段和值为 0 的惩罚参数。",
    "Chat goes to MiniMax's /v1/text/chatcompletion_v2 (OpenAI format).":
        "对话请求发往 MiniMax 的 /v1/text/chatcompletion_v2（OpenAI 格式）。",
    # -- 30 Ollama
    "Ollama's native API (/api/chat, /api/embed): OpenAI-format requests are converted both ways, tools and "
    "images included. A local server needs no key (any text will do); the key is sent as a Bearer token, e.g. "
    "for ollama.com or an auth proxy.":
        "Ollama 原生 API（/api/chat、/api/embed）：OpenAI 格式的请求与响应双向转换，支持工具调用和图片。"
        "本地服务器无需密钥（随意填写即可）；密钥会作为 Bearer token 发送，例如用于 ollama.com 或鉴权代理。",
    "The Ollama server, e.g. http://localhost:11434.": "Ollama 服务器地址，例如 http://localhost:11434",
    # -- 33 AWS Bedrock
    "Amazon Bedrock, SigV4-signed. Claude goes through InvokeModel with the Anthropic Messages body; every other "
    "model (Llama, Mistral, Amazon Nova, Cohere Command R…, application inference profiles) through the Converse "
    "API (/converse, /converse-stream): OpenAI-format requests are converted both ways, tools, images (base64) "
    "and streaming included. Uses an AWS access key pair; the channel key is built as AK|SK|Region when left "
    "empty. Claude names map to Bedrock model ids (claude-3-5-sonnet-20241022 → "
    "anthropic.claude-3-5-sonnet-20241022-v2:0; newer models get the region's inference profile, e.g. us.), "
    "One API's llama3-8b-8192 / llama3-70b-8192 to the Llama 3 ids; Bedrock ids, inference profiles "
    "(us./eu./apac./global., e.g. us.meta.llama3-3-70b-instruct-v1:0) and ARNs are used as given (Model mapping "
    "can name them). Anthropic Messages requests (/v1/messages, Claude Code) to Claude models go to InvokeModel "
    "as they are (anthropic-beta as anthropic_beta; the event stream sent back as Anthropic SSE); to other "
    "models they are converted.":
        "Amazon Bedrock，使用 SigV4 签名。Claude 通过 InvokeModel 调用，请求体为 Anthropic Messages 格式；"
        "其他所有模型（Llama、Mistral、Amazon Nova、Cohere Command R 等，以及应用推理配置文件）通过 "
        "Converse API（/converse、/converse-stream）调用：OpenAI 格式的请求与响应双向转换，支持工具调用、"
        "图片（base64）和流式输出。使用 AWS 访问密钥对；渠道密钥留空时按 AK|SK|Region 自动生成。"
        "Claude 模型名会映射为 Bedrock 模型 ID（claude-3-5-sonnet-20241022 → "
        "anthropic.claude-3-5-sonnet-20241022-v2:0；较新的模型使用所在区域的推理配置文件，例如 us.），"
        "One API 的 llama3-8b-8192 / llama3-70b-8192 映射为对应的 Llama 3 模型 ID；Bedrock 模型 ID、"
        "推理配置文件（us./eu./apac./global.，例如 us.meta.llama3-3-70b-instruct-v1:0）和 ARN 按原样使用"
        "（可在模型重定向中指定）。发往 Claude 模型的 Anthropic Messages 请求（/v1/messages、Claude Code）"
        "按原样转发给 InvokeModel（anthropic-beta 请求头转为 anthropic_beta；事件流以 Anthropic SSE 格式返回）；"
        "发往其他模型时则进行格式转换。",
    "Leave empty for https://bedrock-runtime.<region>.amazonaws.com; another address (a VPC endpoint or proxy) "
    "replaces it, {region} filled in.":
        "留空则使用 https://bedrock-runtime.<region>.amazonaws.com 作为地址；填写其他地址（VPC 终端节点或代理）"
        "时替换该地址，并填入其中的 {region}。",
    "Access key ID": "访问密钥 ID",
    "Secret access key": "秘密访问密钥",
    "Anthropic beta": "Anthropic Beta 功能",
    "e.g. token-efficient-tools-2025-02-19": "例如 token-efficient-tools-2025-02-19",
    "Optional comma-separated betas, sent as the body's anthropic_beta.":
        "可选，多个 Beta 功能以英文逗号分隔，作为请求体的 anthropic_beta 发送。",
    # -- 34 Coze
    "Coze bots through the v3 chat API: the model name is bot-<bot ID> (e.g. bot-7342866812345678901); the key "
    "is a Coze personal access token (pat_…).":
        "通过 v3 chat API 调用 Coze 智能体：模型名为 bot-<bot ID>（例如 bot-7342866812345678901）；"
        "密钥为 Coze 个人访问令牌（pat_…）。",
    "Leave empty for api.coze.com; use https://api.coze.cn for Coze China.":
        "留空则使用 api.coze.com；扣子（Coze 国内版）请填写 https://api.coze.cn",
    "User ID": "用户 ID",
    "The Coze user ID": "Coze 用户 ID",
    "Sent as the chat's user_id; empty = the request's user field, else \"onerelay\".":
        "作为对话的 user_id 发送；留空则使用请求中的 user 字段，若也没有则为 onerelay。",
    # -- 35 Cohere
    "Cohere's v1 Chat API (/v1/chat): OpenAI-format requests are converted both ways, tools included; chat "
    "only. A model name ending in -internet adds Cohere's web-search connector.":
        "Cohere v1 Chat API（/v1/chat）：OpenAI 格式的请求与响应双向转换，支持工具调用；仅支持对话。"
        "模型名以 -internet 结尾时会启用 Cohere 的 web-search 连接器。",
    "Leave empty for api.cohere.ai (api.cohere.com works too).": "留空则使用 api.cohere.ai（也可使用 api.cohere.com）。",
    # -- 37 Cloudflare
    "Workers AI through its OpenAI-compatible endpoints (/ai/v1/chat/completions, /ai/v1/embeddings) of the "
    "account; the key is a Cloudflare API token with Workers AI access.":
        "通过账户的 OpenAI 兼容接口（/ai/v1/chat/completions、/ai/v1/embeddings）调用 Workers AI；"
        "密钥为具有 Workers AI 权限的 Cloudflare API 令牌。",
    "Leave empty for api.cloudflare.com, or give an AI Gateway URL "
    "(https://gateway.ai.cloudflare.com/v1/<account>/<gateway>/workers-ai).":
        "留空则使用 api.cloudflare.com，也可填写 AI Gateway 地址："
        "https://gateway.ai.cloudflare.com/v1/<account>/<gateway>/workers-ai",
    "Account ID": "账户 ID",
    "The Cloudflare account ID": "Cloudflare 账户 ID",
    "Put into the request path (…/accounts/<id>/ai/v1/…); an AI Gateway base URL names the account itself.":
        "填入请求路径（…/accounts/<id>/ai/v1/…）；使用 AI Gateway 地址时，账户已包含在地址中。",
    # -- 38 DeepL
    "Translation as a chat answer: the last message is translated into the language the model names (deepl-zh, "
    "deepl-en, deepl-ja, or any DeepL target such as deepl-en-gb).":
        "以对话回复的形式返回翻译结果：最后一条消息会被翻译为模型名指定的语言（deepl-zh、deepl-en、deepl-ja，"
        "或任意 DeepL 目标语言，如 deepl-en-gb）。",
    "Leave empty: keys ending in :fx use api-free.deepl.com, others api.deepl.com. Any other address (a proxy) "
    "is used as given.":
        "留空即可：以 :fx 结尾的密钥使用 api-free.deepl.com，其他密钥使用 api.deepl.com。"
        "填写其他地址（如代理）时按原样使用。",
    # -- 40 Doubao (Volcengine)
    "Volcengine Ark: use your endpoint IDs (ep-…) as model names, or map model names to them with Model mapping.":
        "火山方舟：将推理接入点 ID（ep-…）用作模型名，或通过模型重定向将模型名映射到接入点 ID。",
    # -- 42 Vertex AI
    "Google Cloud Vertex AI with a service account: its JSON key signs a JWT that is exchanged for an access "
    "token (cached until shortly before it expires). Claude models (names with \"claude\", e.g. "
    "claude-3-5-sonnet-v2@20241022) go to publishers/anthropic (rawPredict), all others to publishers/google "
    "(Gemini generateContent; embeddings through predict); OpenAI-format requests are converted both ways. "
    "Anthropic Messages requests (/v1/messages, Claude Code) to Claude models go to rawPredict/streamRawPredict "
    "as they are; Gemini gets them converted. The channel key defaults to the project ID when left empty.":
        "使用服务账号访问 Google Cloud Vertex AI：以其 JSON 密钥签发 JWT，换取 access token（缓存至临近过期）。"
        "Claude 模型（名称含 claude，例如 claude-3-5-sonnet-v2@20241022）发往 publishers/anthropic"
        "（rawPredict），其他模型发往 publishers/google（Gemini generateContent；Embedding 通过 predict）；"
        "OpenAI 格式的请求与响应双向转换。发往 Claude 模型的 Anthropic Messages 请求（/v1/messages、"
        "Claude Code）按原样转发给 rawPredict/streamRawPredict；发往 Gemini 时则进行格式转换。"
        "渠道密钥留空时默认为项目 ID。",
    "Leave empty for https://{region}-aiplatform.googleapis.com (aiplatform.googleapis.com for region global). "
    "Another address (a proxy) replaces that host; /v1 is appended unless it ends in a version. The token "
    "endpoint is the key's token_uri.":
        "留空则使用 https://{region}-aiplatform.googleapis.com 作为地址（区域为 global 时使用 "
        "aiplatform.googleapis.com）。填写其他地址（如代理）时替换该主机；除非地址已以版本号结尾，"
        "否则会自动追加 /v1。获取 token 的接口为密钥中的 token_uri。",
    "Project ID": "项目 ID",
    "Service account JSON": "服务账号 JSON",
    "The Application Default Credentials JSON of a service account.":
        "服务账号的应用默认凭据（Application Default Credentials）JSON。",
    # -- 43 Proxy
    "Raw pass-through to another gateway, reached only through /v1/oneapi/proxy/<channel id>/<path> (as in One "
    "API): the request goes to the base URL as it is, with the key as its Authorization header. It serves no "
    "chat, completion or embedding requests.":
        "原样透传到另一个网关，只能通过 /v1/oneapi/proxy/<channel id>/<path> 访问（与 One API 一致）："
        "请求按原样发往 Base URL，并以密钥作为 Authorization 请求头。此类渠道不处理对话、补全或 Embedding 请求。",
    "The address requests are forwarded to; the path after the channel id is appended.":
        "请求转发的目标地址；渠道 ID 之后的路径会追加到该地址后。",
    "Authorization header value (e.g. Bearer sk-…)": "Authorization 请求头的值（例如 Bearer sk-…）",
    # -- 46 Replicate
    "Replicate predictions: model names are owner/name (an official model) or owner/name:version. Chat to "
    "language models (the conversation flattened into prompt and system_prompt; streamed from the prediction's "
    "event stream, else polled until it ends) and image generation (/v1/images/generations to image models such "
    "as black-forest-labs/flux-schnell; the answer holds the image URLs, also when b64_json is asked). The key "
    "is a Replicate API token (r8_…).":
        "Replicate 预测（prediction）：模型名为 owner/name（官方模型）或 owner/name:version。支持语言模型"
        "对话（对话内容拼接为 prompt 和 system_prompt；流式请求读取预测的事件流，否则轮询直至完成）和图像生成"
        "（/v1/images/generations 发往 black-forest-labs/flux-schnell 等图像模型；即使请求 b64_json，"
        "响应中也是图片 URL）。密钥为 Replicate API 令牌（r8_…）。",
    "Leave empty for api.replicate.com; another address (a proxy) gets /v1/models/… appended (a trailing /v1 or "
    "/v1/models is dropped).":
        "留空则使用 api.replicate.com；填写其他地址（如代理）时会追加 /v1/models/…"
        "（地址末尾的 /v1 或 /v1/models 会被去掉）。",
    # -- 50 OpenAI-compatible, 51 Gemini (OpenAI)
    "Any server that speaks the OpenAI API (vLLM, LiteLLM, LM Studio, another gateway…).":
        "任何提供 OpenAI API 的服务（vLLM、LiteLLM、LM Studio、其他网关等）。",
    "The API base as given, version path included: /chat/completions, /embeddings… are appended, e.g. "
    "http://10.0.0.5:8000/v1 or https://host/api/v3.":
        "API 基础地址，按原样使用，需包含版本路径：/chat/completions、/embeddings 等路径会追加在其后，"
        "例如 http://10.0.0.5:8000/v1 或 https://host/api/v3",
    "Gemini through Google's OpenAI-compatible endpoint.": "通过 Google 的 OpenAI 兼容接口调用 Gemini。",
}
