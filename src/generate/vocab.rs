//! Fixed vocabularies the generator draws names and texts from: company and people names,
//! handoff phrases, product features, help pages, ticket topics and NPS comments, each in English
//! and Japanese where the data is free text. Holds data only: no randomness, no formats.

/// The language an account's free text is written in (Japanese for JPY accounts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Language {
    English,
    Japanese,
}

/// One piece of text in both languages.
pub(super) struct Phrase {
    pub en: &'static str,
    pub ja: &'static str,
}

impl Phrase {
    pub fn text(&self, language: Language) -> &'static str {
        match language {
            Language::English => self.en,
            Language::Japanese => self.ja,
        }
    }
}

const fn phrase(en: &'static str, ja: &'static str) -> Phrase {
    Phrase { en, ja }
}

/// A name part in Japanese script with its romanization (used in e-mail addresses and domains).
pub(super) struct Romanized {
    pub native: &'static str,
    pub latin: &'static str,
}

const fn romanized(native: &'static str, latin: &'static str) -> Romanized {
    Romanized { native, latin }
}

pub(super) const COMPANY_HEADS: &[&str] = &[
    "Acme",
    "Northwind",
    "Blue Harbor",
    "Summit",
    "Redwood",
    "Lumen",
    "Granite",
    "Atlas",
    "Pioneer",
    "Cobalt",
    "Silverline",
    "Evergreen",
    "Brightpath",
    "Ironclad",
    "Nimbus",
    "Orchid",
    "Keystone",
    "Vertex",
    "Meridian",
    "Tidewater",
];

pub(super) const COMPANY_TAILS: &[&str] = &[
    "Logistics",
    "Foods",
    "Health",
    "Analytics",
    "Retail",
    "Labs",
    "Energy",
    "Media",
    "Capital",
    "Robotics",
    "Apparel",
    "Travel",
];

pub(super) const JAPANESE_COMPANY_HEADS: &[Romanized] = &[
    romanized("さくら", "sakura"),
    romanized("富士", "fuji"),
    romanized("青葉", "aoba"),
    romanized("東海", "tokai"),
    romanized("北斗", "hokuto"),
    romanized("みなと", "minato"),
    romanized("大和", "yamato"),
    romanized("光陽", "koyo"),
];

pub(super) const JAPANESE_COMPANY_TAILS: &[Romanized] = &[
    romanized("物流", "logi"),
    romanized("食品", "foods"),
    romanized("メディカル", "medical"),
    romanized("システムズ", "systems"),
    romanized("商事", "shoji"),
    romanized("製作所", "works"),
];

pub(super) const INDUSTRIES: &[&str] = &[
    "Software",
    "Retail",
    "Healthcare",
    "Manufacturing",
    "Financial Services",
    "Logistics",
    "Education",
    "Media",
];

/// Customer Success managers; the first group covers English-speaking accounts.
pub(super) const CSM_OWNERS: &[&str] = &[
    "Alex Kim",
    "Priya Nair",
    "Marco Rossi",
    "Dana Whitfield",
    "Sam Carter",
];
pub(super) const JAPANESE_CSM_OWNERS: &[&str] = &["Yuki Tanaka", "Kenji Sato"];

pub(super) const SALES_OWNERS: &[&str] =
    &["Jordan Lee", "Taylor Brooks", "Morgan Diaz", "Riley Chen"];
pub(super) const JAPANESE_SALES_OWNERS: &[&str] = &["Haruto Mori", "Aiko Shimizu"];

pub(super) const FIRST_NAMES: &[&str] = &[
    "Jane", "John", "Maria", "Wei", "Aisha", "Carlos", "Emma", "Liam", "Olivia", "Noah", "Sofia",
    "Ethan", "Chloe", "Lucas", "Hannah", "Omar", "Grace", "Mateo", "Zoe", "Ravi",
];

pub(super) const LAST_NAMES: &[&str] = &[
    "Doe", "Smith", "Garcia", "Chen", "Khan", "Silva", "Johnson", "Brown", "Martin", "Patel",
    "Nguyen", "Rossi", "Kowalski", "Okafor", "Larsen", "Dubois",
];

pub(super) const JAPANESE_FAMILY_NAMES: &[Romanized] = &[
    romanized("佐藤", "sato"),
    romanized("鈴木", "suzuki"),
    romanized("高橋", "takahashi"),
    romanized("田中", "tanaka"),
    romanized("伊藤", "ito"),
    romanized("渡辺", "watanabe"),
    romanized("山本", "yamamoto"),
    romanized("中村", "nakamura"),
    romanized("小林", "kobayashi"),
    romanized("加藤", "kato"),
];

pub(super) const JAPANESE_GIVEN_NAMES: &[Romanized] = &[
    romanized("太郎", "taro"),
    romanized("花子", "hanako"),
    romanized("健", "ken"),
    romanized("陽子", "yoko"),
    romanized("翔", "sho"),
    romanized("美咲", "misaki"),
    romanized("大輔", "daisuke"),
    romanized("由美", "yumi"),
    romanized("拓也", "takuya"),
    romanized("彩", "aya"),
];

pub(super) const GOALS: &[Phrase] = &[
    phrase("Reduce churn by 10%", "解約率を10%削減する"),
    phrase(
        "Replace spreadsheet reporting",
        "スプレッドシートでのレポート作成を置き換える",
    ),
    phrase(
        "Give sales managers a weekly pipeline view",
        "営業マネージャーが毎週パイプラインを確認できるようにする",
    ),
    phrase(
        "Cut month-end close from 10 to 5 days",
        "月次決算を10日から5日に短縮する",
    ),
    phrase(
        "Roll out self-serve dashboards to every team",
        "全部署にセルフサービスのダッシュボードを展開する",
    ),
    phrase(
        "Consolidate three analytics tools into one",
        "3つの分析ツールを1つに統合する",
    ),
];

pub(super) const KPIS: &[Phrase] = &[
    phrase("weekly active users", "週次アクティブユーザー数"),
    phrase("reports shared per month", "月間レポート共有数"),
    phrase(
        "time to first dashboard",
        "初回ダッシュボード作成までの日数",
    ),
    phrase(
        "support tickets per 100 users",
        "100ユーザーあたりの問い合わせ件数",
    ),
    phrase("seat utilization above 80%", "シート利用率80%以上"),
];

pub(super) const RISKS: &[Phrase] = &[
    phrase("Limited admin bandwidth", "管理者の工数不足"),
    phrase(
        "Executive sponsor leaving in Q3",
        "役員スポンサーが第3四半期に異動予定",
    ),
    phrase(
        "Legacy BI contract still running until renewal",
        "既存BIツールの契約が更新まで残っている",
    ),
    phrase("Data warehouse migration in progress", "データ基盤の移行中"),
    phrase("Low engagement from field teams", "現場チームの関与が低い"),
];

pub(super) const DECISION_MAKER_TITLES: &[Phrase] = &[
    phrase("VP Ops", "事業推進部長"),
    phrase("CFO", "CFO"),
    phrase("Head of Customer Success", "カスタマーサクセス部長"),
    phrase("CTO", "CTO"),
    phrase("Director of Sales", "営業本部長"),
];

pub(super) const CHAMPION_TITLES: &[Phrase] = &[
    phrase("Ops Manager", "業務改善担当"),
    phrase("Analytics Lead", "データ分析リーダー"),
    phrase("RevOps Manager", "営業企画マネージャー"),
    phrase("Team Lead", "チームリーダー"),
];

/// Free prose a salesperson mixes into handoff notes. Some lines hold a colon under a key the
/// notes parser does not know, as real notes do.
pub(super) const NOTE_PROSE: &[Phrase] = &[
    phrase(
        "Kickoff went well; the team is eager to start.",
        "キックオフは順調で、チームの期待も高い。",
    ),
    phrase(
        "Migrating from spreadsheets, expect a two-week data cleanup.",
        "スプレッドシートからの移行のため、データ整備に2週間ほどかかる見込み。",
    ),
    phrase(
        "Procurement asked for quarterly invoicing, approved by finance.",
        "購買部門から四半期請求の要望あり（経理承認済み）。",
    ),
    phrase(
        "Met the IT team on site: SSO needed before rollout.",
        "情報システム部と打ち合わせ済み。展開前にSSO設定が必要。",
    ),
    phrase(
        "Next step: schedule the admin training.",
        "次のステップ：管理者トレーニングの日程調整。",
    ),
    phrase(
        "Budget approved for a 12-month term.",
        "12か月契約で予算承認済み。",
    ),
];

/// A product feature as it shows up in `track` calls: the event name and one property.
pub(super) struct Feature {
    pub event: &'static str,
    pub property: &'static str,
    pub values: &'static [&'static str],
}

const fn feature(
    event: &'static str,
    property: &'static str,
    values: &'static [&'static str],
) -> Feature {
    Feature {
        event,
        property,
        values,
    }
}

/// Ordered from the features every account uses to those only deep adopters reach, so an
/// account's adoption breadth is a prefix of this list.
pub(super) const FEATURES: &[Feature] = &[
    feature(
        "Dashboard Viewed",
        "dashboard",
        &["Pipeline", "Revenue", "Team KPIs", "Support Overview"],
    ),
    feature(
        "Report Created",
        "report_type",
        &["funnel", "cohort", "table", "trend"],
    ),
    feature("Comment Added", "object", &["report", "dashboard"]),
    feature("Filter Saved", "scope", &["personal", "team"]),
    feature("Export Run", "format", &["csv", "xlsx", "pdf"]),
    feature("Report Shared", "channel", &["email", "slack", "link"]),
    feature("Alert Configured", "condition", &["threshold", "anomaly"]),
    feature("User Invited", "role", &["member", "viewer", "admin"]),
    feature(
        "Data Source Synced",
        "source",
        &["postgres", "bigquery", "snowflake", "salesforce"],
    ),
    feature(
        "Integration Connected",
        "integration",
        &["slack", "salesforce", "hubspot", "jira"],
    ),
    feature("Workflow Automated", "trigger", &["schedule", "webhook"]),
    feature("API Key Created", "scope", &["read", "write"]),
];

/// Why a reader lands on a help page; struggling accounts read different pages than new ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum HelpTopic {
    GettingStarted,
    Troubleshooting,
    Leaving,
    Reference,
}

pub(super) struct HelpPage {
    pub path: &'static str,
    pub title: &'static str,
    pub topic: HelpTopic,
}

const fn help_page(path: &'static str, title: &'static str, topic: HelpTopic) -> HelpPage {
    HelpPage { path, title, topic }
}

pub(super) const HELP_SITE: &str = "https://help.example.com";

pub(super) const HELP_PAGES: &[HelpPage] = &[
    help_page(
        "/help/onboarding-checklist",
        "Onboarding checklist",
        HelpTopic::GettingStarted,
    ),
    help_page(
        "/help/invite-users",
        "Invite your team",
        HelpTopic::GettingStarted,
    ),
    help_page(
        "/help/sso-setup",
        "Set up single sign-on (SSO)",
        HelpTopic::GettingStarted,
    ),
    help_page(
        "/help/dashboards/getting-started",
        "Build your first dashboard",
        HelpTopic::GettingStarted,
    ),
    help_page(
        "/help/troubleshooting/sync-errors",
        "Fix data source sync errors",
        HelpTopic::Troubleshooting,
    ),
    help_page(
        "/help/troubleshooting/slow-reports",
        "Why is my report slow?",
        HelpTopic::Troubleshooting,
    ),
    help_page(
        "/help/permissions-and-roles",
        "Permissions and roles",
        HelpTopic::Troubleshooting,
    ),
    help_page(
        "/help/cancel-subscription",
        "Cancel your subscription",
        HelpTopic::Leaving,
    ),
    help_page(
        "/help/export-data",
        "Export all your data",
        HelpTopic::Leaving,
    ),
    help_page("/help/billing-faq", "Billing FAQ", HelpTopic::Leaving),
    help_page(
        "/help/alerts",
        "Alerts and notifications",
        HelpTopic::Reference,
    ),
    help_page("/help/api-keys", "API keys", HelpTopic::Reference),
    help_page(
        "/help/reports/sharing",
        "Share a report",
        HelpTopic::Reference,
    ),
    help_page(
        "/help/workflows",
        "Automate with workflows",
        HelpTopic::Reference,
    ),
    help_page(
        "/help/integrations/salesforce",
        "Salesforce integration",
        HelpTopic::Reference,
    ),
];

/// Where a help-page reader came from; empty for a direct visit.
pub(super) const REFERRERS: &[&str] = &[
    "https://app.example.com/dashboards",
    "https://app.example.com/reports",
    "https://www.google.com/",
    "",
];

/// A kind of support request. `distress` topics dominate while an account is failing.
pub(super) struct TicketTopic {
    pub subject: Phrase,
    pub tags: &'static [&'static str],
    pub kind: &'static str,
    pub distress: bool,
}

const fn topic(
    subject: Phrase,
    tags: &'static [&'static str],
    kind: &'static str,
    distress: bool,
) -> TicketTopic {
    TicketTopic {
        subject,
        tags,
        kind,
        distress,
    }
}

pub(super) const TICKET_TOPICS: &[TicketTopic] = &[
    topic(
        phrase(
            "How do I share a dashboard?",
            "ダッシュボードを共有する方法は？",
        ),
        &["how-to", "dashboards"],
        "question",
        false,
    ),
    topic(
        phrase("Cannot log in with SSO", "SSOでログインできない"),
        &["sso", "login"],
        "incident",
        false,
    ),
    topic(
        phrase(
            "Invoice shows the wrong number of seats",
            "請求書のシート数が間違っている",
        ),
        &["billing"],
        "question",
        false,
    ),
    topic(
        phrase("Please add three more users", "ユーザーを3名追加したい"),
        &["seats", "admin"],
        "task",
        false,
    ),
    topic(
        phrase(
            "Export to CSV times out",
            "CSVエクスポートがタイムアウトする",
        ),
        &["export", "performance"],
        "problem",
        true,
    ),
    topic(
        phrase(
            "Salesforce integration stopped syncing",
            "Salesforce連携が同期しない",
        ),
        &["integration", "salesforce"],
        "incident",
        true,
    ),
    topic(
        phrase(
            "Dashboards are down for the whole team",
            "チーム全員がダッシュボードを開けない",
        ),
        &["outage", "dashboards"],
        "incident",
        true,
    ),
    topic(
        phrase("Request to cancel our subscription", "解約の手続きについて"),
        &["cancellation", "billing"],
        "task",
        true,
    ),
];

/// NPS comments by band: detractor (0–6), passive (7–8), promoter (9–10). Some hold commas,
/// quotes or a line break, which the CSV writer must quote.
pub(super) const DETRACTOR_COMMENTS: &[Phrase] = &[
    phrase(
        "Too slow, and exports keep failing.",
        "動作が遅く、エクスポートがよく失敗する。",
    ),
    phrase(
        "We are moving to another tool.\nThe reporting is not what we need.",
        "別ツールへの移行を検討中。\nレポート機能が要件に合わない。",
    ),
    phrase(
        "Support takes \"forever\" to answer",
        "サポートの回答が「とても」遅い",
    ),
];

pub(super) const PASSIVE_COMMENTS: &[Phrase] = &[
    phrase("Good, but pricing is high.", "良いが、価格が高い。"),
    phrase(
        "Dashboards are nice; setup was hard",
        "ダッシュボードは良いが、初期設定が難しい",
    ),
];

pub(super) const PROMOTER_COMMENTS: &[Phrase] = &[
    phrase("Love the dashboards!", "ダッシュボードが素晴らしい！"),
    phrase(
        "Our team relies on it every day, great support.",
        "チーム全員が毎日使っています。サポートも最高。",
    ),
];
